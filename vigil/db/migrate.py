"""Append-only SQL migrations, applied in name order and recorded in ``schema_migrations``.

A migration file is never edited once released: its checksum is recorded, and a changed
file stops ``migrate`` with an error instead of silently diverging. Migrations run under an
advisory lock, so two processes that start at once do not both migrate; they need no
superuser: the schema (``VIGIL_DATABASE_SCHEMA``, the first of the session's search_path) is
created when the role may, and pgvector must be installed in the database, or creatable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from vigil.db.types import Conn
from vigil.errors import VigilError

LOCK_KEY = 0x56_69_67_69_6C  # "Vigil": one migrator at a time per database


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """The migrations shipped in ``infra/migrations``, in order."""
    folder = resources.files("infra") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(f.name.removesuffix(".sql"), f.read_text()) for f in files]


def migrate(conn: Conn) -> list[str]:
    """Apply every pending migration, each in its own transaction. Returns the names applied."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        _ensure_schema(conn)
        _ensure_pgvector(conn)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = conn.execute("SELECT name, checksum FROM schema_migrations").fetchall()
        done = {r["name"]: r["checksum"] for r in rows}
        for migration in available():
            if migration.name in done:
                if done[migration.name] != migration.checksum:
                    raise VigilError(
                        f"Migration {migration.name} was changed after it was applied. "
                        "Migrations are append-only: restore the file and add a new one."
                    )
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                    (migration.name, migration.checksum),
                )
            applied_now.append(migration.name)
    return applied_now


def _ensure_schema(conn: Conn) -> None:
    """Create the first schema of the search_path (Vigil's, when VIGIL_DATABASE_SCHEMA is
    set) if it is missing, or say who must."""
    row = conn.execute(
        "SELECT current_setting('search_path') AS path, current_user AS who"
    ).fetchone()
    assert row is not None
    first = row["path"].split(",")[0].strip().strip('"')
    if not first or first == "$user":
        return
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (first,)).fetchone()
    if exists is not None:
        return
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(first)))
    except psycopg.errors.InsufficientPrivilege as err:
        raise VigilError(
            f"Schema {first!r} does not exist and role {row['who']!r} may not create it. Ask "
            f"an administrator to run: CREATE SCHEMA {first} AUTHORIZATION {row['who']};"
        ) from err


def _ensure_pgvector(conn: Conn) -> None:
    """pgvector must be in the database: create it if the role may, else say who must."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION vector")
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFile,
            psycopg.errors.FeatureNotSupported) as err:  # fmt: skip
        raise VigilError(
            "The pgvector extension is not installed in this database "
            f"({err.diag.message_primary}). Ask an administrator to run CREATE EXTENSION "
            "vector; in it (on a managed service: enable pgvector), then run `vigil db "
            "migrate` again."
        ) from err
