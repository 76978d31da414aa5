"""OTLP spans: the SQL behind assembling traces from spans (see :mod:`vigil.ingest.spans`).

Spans and their chunks are inserted idempotently (keyed on trace and span ids, then rank,
and the trace's ``part_time``, which places them in its partition); the traces they belong
to are locked (their ``trace_ids`` rows) while a batch is written and read back to be
re-assembled. Rows are written with array parameters (one statement a table), not row by row.
Trace rows themselves are written by :mod:`vigil.store.traces`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.models import MappedSpan, Retrieval


class Owner(NamedTuple):
    """A stored trace's app and partition (``part_time``), from ``trace_ids``."""

    app: str
    part_time: datetime


def lock_trace_owners(conn: Conn, ids: list[str]) -> dict[str, Owner]:
    """Owners (apps) and partitions of the traces among ``ids`` that exist, locked for this
    transaction (a trace is locked by locking its ``trace_ids`` row).

    Locked in id order, so that concurrent batches cannot deadlock.
    """
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT id, app, part_time FROM trace_ids WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
        (ids,),
    )
    return {r["id"]: Owner(r["app"], r["part_time"]) for r in rows}


def insert_spans(conn: Conn, spans: list[MappedSpan], parts: dict[str, datetime]) -> int:
    """Insert spans not stored yet, each into its trace's partition (``parts``: trace id to
    ``part_time``); returns how many were new (the rest are re-sent)."""
    if not spans:
        return 0
    cur = conn.execute(
        """
        INSERT INTO spans (trace_id, span_id, parent_span_id, kind, name, start_time, end_time,
                           attributes, status, mapped, part_time)
        SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                             %b::timestamptz[], %b::timestamptz[], %b::jsonb[], %b::text[],
                             %b::jsonb[], %b::timestamptz[])
        ON CONFLICT (trace_id, span_id, part_time) DO NOTHING
        """,
        (
            [s.trace_id for s in spans], [s.span_id for s in spans],
            [s.parent_span_id for s in spans], [s.kind for s in spans],
            [s.name for s in spans], [s.start_time for s in spans],
            [s.end_time for s in spans], [Jsonb(s.attributes) for s in spans],
            [s.status for s in spans], [Jsonb(s.mapped) for s in spans],
            [parts[s.trace_id] for s in spans],
        ),
    )  # fmt: skip
    return max(cur.rowcount, 0)


def insert_span_retrievals(conn: Conn, spans: list[MappedSpan], parts: dict[str, datetime]) -> None:
    """Insert the chunks the spans retrieved, in their trace's partition; chunks already
    stored are left as they are."""
    rows = [(s, r) for s in spans for r in s.retrievals]
    if not rows:
        return
    conn.execute(
        """
        INSERT INTO retrievals (trace_id, span_id, rank, document_id, content, score, part_time)
        SELECT * FROM unnest(%b::text[], %b::text[], %b::int[], %b::text[], %b::text[],
                             %b::float8[], %b::timestamptz[])
        ON CONFLICT (trace_id, span_id, rank, part_time) DO NOTHING
        """,
        (
            [s.trace_id for s, _ in rows], [s.span_id for s, _ in rows],
            [r["rank"] for _, r in rows], [r.get("document_id") for _, r in rows],
            [r.get("content", "") for _, r in rows], [r.get("score") for _, r in rows],
            [parts[s.trace_id] for s, _ in rows],
        ),
    )  # fmt: skip


def assembly_spans(
    conn: Conn, trace_ids: list[str], part_times: list[datetime]
) -> dict[str, list[dict[str, Any]]]:
    """What assembly reads of each stored span, by trace, in start order. ``part_times``:
    the partitions of the traces (the reads touch only those).

    Each row has span_id, parent_span_id, kind, start_time, end_time, status and mapped.
    """
    by_trace: dict[str, list[dict[str, Any]]] = {}
    if not trace_ids:
        return by_trace
    for r in conn.execute(
        "SELECT trace_id, span_id, parent_span_id, kind, start_time, end_time, status, mapped"
        " FROM spans WHERE trace_id = ANY(%s) AND part_time = ANY(%s)"
        " ORDER BY trace_id, start_time, span_id",
        (trace_ids, part_times),
    ):
        by_trace.setdefault(r.pop("trace_id"), []).append(r)
    return by_trace


def trace_retrievals(
    conn: Conn, trace_ids: list[str], part_times: list[datetime]
) -> dict[str, list[Retrieval]]:
    """The stored chunks of each trace, by span id then rank."""
    chunks: dict[str, list[Retrieval]] = {}
    if not trace_ids:
        return chunks
    for r in conn.execute(
        "SELECT trace_id, span_id, rank, document_id, content, score FROM retrievals"
        " WHERE trace_id = ANY(%s) AND part_time = ANY(%s) ORDER BY trace_id, span_id, rank",
        (trace_ids, part_times),
    ):
        chunks.setdefault(r.pop("trace_id"), []).append(Retrieval(**r))
    return chunks


def trace_heads(
    conn: Conn, trace_ids: list[str], part_times: list[datetime]
) -> dict[str, dict[str, Any]]:
    """What re-assembly keeps of each stored trace: app, attributes and user feedback."""
    if not trace_ids:
        return {}
    rows = conn.execute(
        "SELECT id, app, attributes, user_feedback FROM traces"
        " WHERE id = ANY(%s) AND part_time = ANY(%s)",
        (trace_ids, part_times),
    )
    return {r.pop("id"): r for r in rows}


def complete_quiet_traces(conn: Conn, grace_seconds: int) -> int:
    """Mark complete the traces that got no span for ``grace_seconds`` (no root ever ended).

    Measured on the database clock (``updated_at`` is set by it), so receivers' clocks do
    not matter.
    """
    cur = conn.execute(
        "UPDATE traces SET complete = true WHERE NOT complete"
        " AND updated_at < now() - make_interval(secs => %s)",
        (grace_seconds,),
    )
    return max(cur.rowcount, 0)
