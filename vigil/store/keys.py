"""API keys for the OTLP receiver: ``vgl_<prefix>_<secret>``, stored as SHA-256, one app each."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from vigil.db.types import Conn
from vigil.errors import VigilError

KEY_PREFIX = "vgl_"


@dataclass(frozen=True)
class ApiKey:
    id: int
    prefix: str
    app: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(conn: Conn, app: str, created_by: str) -> tuple[ApiKey, str]:
    """A new key for ``app``. Returns the record and the full key, which is shown only once."""
    if not app.strip():
        raise VigilError("A key needs an app name: vigil keys create --app NAME.")
    prefix = secrets.token_hex(4)
    token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = conn.execute(
        "INSERT INTO api_keys (prefix, secret_hash, app, created_by) VALUES (%s, %s, %s, %s)"
        " RETURNING id, prefix, app, created_by, created_at, revoked_at",
        (prefix, _hash(token), app.strip(), created_by),
    ).fetchone()
    assert row is not None
    return ApiKey(**row), token


def app_for_token(conn: Conn, token: str) -> str | None:
    """The app a valid, unrevoked key belongs to; None otherwise."""
    if not token.startswith(KEY_PREFIX):
        return None
    row = conn.execute(
        "SELECT app FROM api_keys WHERE secret_hash = %s AND revoked_at IS NULL", (_hash(token),)
    ).fetchone()
    return str(row["app"]) if row else None


def list_keys(conn: Conn) -> list[ApiKey]:
    rows = conn.execute(
        "SELECT id, prefix, app, created_by, created_at, revoked_at FROM api_keys ORDER BY id"
    ).fetchall()
    return [ApiKey(**r) for r in rows]


def revoke_key(conn: Conn, prefix: str, revoked_by: str) -> ApiKey:
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = now(), revoked_by = %s"
        " WHERE prefix = %s AND revoked_at IS NULL"
        " RETURNING id, prefix, app, created_by, created_at, revoked_at",
        (revoked_by, prefix),
    ).fetchone()
    if row is None:
        raise VigilError(f"No active key with prefix {prefix!r}; see `vigil keys list`.")
    return ApiKey(**row)
