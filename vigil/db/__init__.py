"""Database access: the embedded server, connections and migrations."""

from vigil.db.connection import (
    connect,
    database_url,
    embedded_server,
    ensure_database_exists,
    is_alive,
    prefect_database_url,
    register_vectors,
    transaction,
    translate_errors,
)
from vigil.db.migrate import migrate

__all__ = [
    "connect",
    "database_url",
    "embedded_server",
    "ensure_database_exists",
    "is_alive",
    "migrate",
    "prefect_database_url",
    "register_vectors",
    "transaction",
    "translate_errors",
]
