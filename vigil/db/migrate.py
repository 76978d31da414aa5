"""Append-only SQL migrations, applied in name order and recorded in ``schema_migrations``.

A migration file is never edited once released: its checksum is recorded, and a changed
file stops ``migrate`` with an error instead of silently diverging.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

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
