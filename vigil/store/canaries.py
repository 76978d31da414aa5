"""Live canaries (migration 0007): a segment of an app compared with its control by the
``canary`` flow until someone stops it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.errors import VigilError


def start(conn: Conn, app: str, segment: dict[str, str], against: dict[str, str],
          by: str, since: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """Start watching a canary live since ``since`` (default now); starting one that is
    live already returns the live row unchanged."""
    if not by.strip():
        raise VigilError("starting a canary needs a name: --by NAME")
    if segment == against:
        raise VigilError(f"--segment and --against are the same ({segment}); the control "
                         "is the traffic the canary is compared with, e.g. the previous "
                         "prompt_version")  # fmt: skip
    conn.execute(
        """INSERT INTO canaries (app, segment, against, started_by, started_at)
           VALUES (%s, %s, %s, %s, COALESCE(%s, now()))
           ON CONFLICT (app, segment, against) WHERE stopped_at IS NULL DO NOTHING""",
        (app, Jsonb(segment), Jsonb(against), by.strip(), since),
    )
    row = conn.execute(
        "SELECT * FROM canaries WHERE app = %s AND segment = %s AND against = %s"
        " AND stopped_at IS NULL",
        (app, Jsonb(segment), Jsonb(against)),
    ).fetchone()
    assert row is not None
    return row


def stop(conn: Conn, canary_id: int) -> dict[str, Any]:
    row = conn.execute(
        "UPDATE canaries SET stopped_at = COALESCE(stopped_at, now()) WHERE id = %s RETURNING *",
        (canary_id,),
    ).fetchone()
    if row is None:
        raise VigilError(f"no canary #{canary_id}; `vigil canary list` shows them")
    return row


def live(conn: Conn, app: str | None = None) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT * FROM canaries WHERE stopped_at IS NULL AND (%(app)s::text IS NULL"
        " OR app = %(app)s) ORDER BY id",
        {"app": app},
    ).fetchall()


def listing(conn: Conn, limit: int = 50) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT * FROM canaries ORDER BY stopped_at IS NOT NULL, id DESC LIMIT %s", (limit,)
    ).fetchall()


def get(conn: Conn, canary_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM canaries WHERE id = %s", (canary_id,)).fetchone()
    if row is None:
        raise VigilError(f"no canary #{canary_id}; `vigil canary list` shows them")
    return row


def note_verdict(conn: Conn, canary_id: int, verdict: str, at: datetime) -> None:
    conn.execute(
        "UPDATE canaries SET last_verdict = %s, last_checked = %s WHERE id = %s",
        (verdict, at, canary_id),
    )
