"""Segments: each app's promoted keys, and the SQL behind rebuilding stored segments.

The rules are in :mod:`vigil.ingest.segments`; this module only reads and writes rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn


@dataclass(frozen=True)
class SegmentKeys:
    app: str
    keys: tuple[str, ...]  # span attribute keys promoted to segment keys
    updated_at: datetime


def set_keys(conn: Conn, app: str, keys: list[str]) -> SegmentKeys:
    """Replace ``app``'s promoted keys (validated by the caller)."""
    row = conn.execute(
        "INSERT INTO segment_keys (app, keys) VALUES (%s, %s)"
        " ON CONFLICT (app) DO UPDATE SET keys = EXCLUDED.keys, updated_at = now()"
        " RETURNING app, keys, updated_at",
        (app, keys),
    ).fetchone()
    assert row is not None
    return SegmentKeys(row["app"], tuple(row["keys"]), row["updated_at"])


def keys_for(conn: Conn, app: str) -> tuple[str, ...]:
    """``app``'s promoted keys; () when it has none."""
    row = conn.execute("SELECT keys FROM segment_keys WHERE app = %s", (app,)).fetchone()
    return tuple(row["keys"]) if row else ()


def list_keys(conn: Conn, app: str | None = None) -> list[SegmentKeys]:
    rows = conn.execute(
        "SELECT app, keys, updated_at FROM segment_keys"
        " WHERE %(app)s::text IS NULL OR app = %(app)s ORDER BY app",
        {"app": app},
    ).fetchall()
    return [SegmentKeys(r["app"], tuple(r["keys"]), r["updated_at"]) for r in rows]


def all_keys(conn: Conn) -> dict[str, tuple[str, ...]]:
    return {k.app: k.keys for k in list_keys(conn)}


def reset_keys(conn: Conn, app: str) -> bool:
    """Forget ``app``'s promoted keys; whether it had any."""
    cur = conn.execute("DELETE FROM segment_keys WHERE app = %s", (app,))
    return cur.rowcount > 0


_RANGE = """
    (%(app)s::text IS NULL OR t.app = %(app)s)
    AND (%(start)s::timestamptz IS NULL OR t.start_time >= %(start)s)
    AND (%(start)s::timestamptz IS NULL OR t.part_time >= %(start)s)
    AND (%(end)s::timestamptz IS NULL OR t.start_time < %(end)s)
    AND EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.id AND s.part_time = t.part_time)
"""


def count_traces_with_spans(
    conn: Conn, app: str | None, start: datetime | None, end: datetime | None
) -> int:
    row = conn.execute(
        f"SELECT count(*) AS n FROM traces t WHERE {_RANGE}",
        {"app": app, "start": start, "end": end},
    ).fetchone()
    return int(row["n"]) if row else 0


def lock_traces_with_spans(
    conn: Conn,
    app: str | None,
    start: datetime | None,
    end: datetime | None,
    after: str,
    limit: int,
) -> list[dict[str, Any]]:
    """The next ``limit`` traces with spans (id, app, segment, attributes, part_time) whose id
    sorts after ``after``, locked as the receiver locks them: their ``trace_ids`` rows, in id
    order (no deadlock)."""
    return conn.execute(
        f"SELECT t.id, t.app, t.segment, t.attributes, t.part_time FROM traces t"
        f" JOIN trace_ids k ON k.id = t.id AND k.part_time = t.part_time WHERE {_RANGE}"
        " AND t.id > %(after)s ORDER BY t.id LIMIT %(limit)s FOR UPDATE OF k",
        {"app": app, "start": start, "end": end, "after": after, "limit": limit},
    ).fetchall()


def rebuild_spans(
    conn: Conn, trace_ids: list[str], part_times: list[datetime]
) -> dict[str, list[dict[str, Any]]]:
    """Stored spans of the traces (in the partitions ``part_times``), by trace, in start
    order, with attributes and mapped."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for r in conn.execute(
        "SELECT trace_id, span_id, parent_span_id, kind, start_time, end_time, status, mapped,"
        " attributes FROM spans WHERE trace_id = ANY(%s) AND part_time = ANY(%s)"
        " ORDER BY trace_id, start_time, span_id",
        (trace_ids, sorted(set(part_times))),
    ):
        by_trace.setdefault(r.pop("trace_id"), []).append(r)
    return by_trace


def update_span_mapped(
    conn: Conn, rows: list[tuple[str, str, dict[str, Any]]], part_times: list[datetime]
) -> None:
    """Set ``mapped`` of spans: (trace id, span id, mapped) each, in the partitions
    ``part_times``."""
    if not rows:
        return
    conn.execute(
        "UPDATE spans s SET mapped = v.mapped"
        " FROM unnest(%b::text[], %b::text[], %b::jsonb[]) AS v(trace_id, span_id, mapped)"
        " WHERE s.trace_id = v.trace_id AND s.span_id = v.span_id"
        " AND s.part_time = ANY(%b::timestamptz[])",
        ([r[0] for r in rows], [r[1] for r in rows], [Jsonb(r[2]) for r in rows],
         sorted(set(part_times))),
    )  # fmt: skip


def update_trace_segments(
    conn: Conn, rows: list[tuple[str, dict[str, str], dict[str, Any]]], part_times: list[datetime]
) -> None:
    """Set segment and attributes of traces: (id, segment, attributes) each, in the
    partitions ``part_times``. ``updated_at`` is left alone: it times the completion of
    traces whose root never ended."""
    if not rows:
        return
    conn.execute(
        "UPDATE traces t SET segment = v.segment, attributes = v.attributes"
        " FROM unnest(%b::text[], %b::jsonb[], %b::jsonb[]) AS v(id, segment, attributes)"
        " WHERE t.id = v.id AND t.part_time = ANY(%b::timestamptz[])",
        ([r[0] for r in rows], [Jsonb(r[1]) for r in rows], [Jsonb(r[2]) for r in rows],
         sorted(set(part_times))),
    )  # fmt: skip
