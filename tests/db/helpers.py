"""A database migrated up to a given migration only: the schema a previous release left,
to populate and then migrate the rest of the way (``migrate``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vigil.db import connect, ensure_database_exists
from vigil.db.connection import with_database
from vigil.db.migrate import Migration, available
from vigil.db.types import Conn


def before(name: str) -> str:
    """The name of the migration that comes just before ``name`` (found, not hard-coded)."""
    names = [m.name for m in available()]
    return names[names.index(name) - 1]


def named(prefix: str) -> str:
    """The migration whose name starts with ``prefix`` (``"0017"`` → ``"0017_partitions"``)."""
    (found,) = [m.name for m in available() if m.name.startswith(prefix)]
    return found


@contextmanager
def database_at(admin_url: str, database: str, up_to: str) -> Iterator[Conn]:
    """A fresh database ``database`` migrated up to ``up_to`` (included), recorded as
    ``migrate`` records it, then dropped on exit."""
    with connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database}")
    ensure_database_exists(admin_url, database)
    try:
        with connect(with_database(admin_url, database), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE schema_migrations (name text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            names = [m.name for m in available()]
            assert up_to in names, f"no migration {up_to}"
            for migration in available()[: names.index(up_to) + 1]:
                apply(conn, migration)
            yield conn
    finally:
        with connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def apply(conn: Conn, migration: Migration) -> None:
    with conn.transaction():
        conn.execute(migration.sql.encode())
        conn.execute(
            "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
            (migration.name, migration.checksum),
        )
