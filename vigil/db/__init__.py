"""Database access: the embedded server, connections and migrations."""

from vigil.db.connection import (
    connect,
    database_url,
    embedded_server,
    ensure_database_exists,
    prefect_database_url,
    transaction,
)
from vigil.db.migrate import migrate

__all__ = [
    "connect",
    "database_url",
    "embedded_server",
    "ensure_database_exists",
    "migrate",
    "prefect_database_url",
    "transaction",
]
