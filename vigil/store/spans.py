"""OTLP spans: the SQL behind assembling traces from spans (see :mod:`vigil.ingest.spans`).

Spans and their chunks are inserted idempotently (keyed on trace and span ids, then rank);
the traces they belong to are locked while a batch is written and read back to be
re-assembled. Rows are written with array parameters (one statement a table), not row by row.
Trace rows themselves are written by :mod:`vigil.store.traces`.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.models import MappedSpan, Retrieval


def lock_trace_owners(conn: Conn, ids: list[str]) -> dict[str, str]:
    """Owners (apps) of the traces among ``ids`` that exist, locked for this transaction.

    Locked in id order, so that concurrent batches cannot deadlock.
    """
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT id, app FROM traces WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,)
    )
    return {r["id"]: r["app"] for r in rows}


def insert_spans(conn: Conn, spans: list[MappedSpan]) -> int:
    """Insert spans not stored yet; returns how many were new (the rest are re-sent)."""
    if not spans:
        return 0
    cur = conn.execute(
        """
        INSERT INTO spans (trace_id, span_id, parent_span_id, kind, name, start_time, end_time,
                           attributes, status, mapped)
        SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                             %b::timestamptz[], %b::timestamptz[], %b::jsonb[], %b::text[],
                             %b::jsonb[])
        ON CONFLICT (trace_id, span_id) DO NOTHING
        """,
        (
            [s.trace_id for s in spans], [s.span_id for s in spans],
            [s.parent_span_id for s in spans], [s.kind for s in spans],
            [s.name for s in spans], [s.start_time for s in spans],
            [s.end_time for s in spans], [Jsonb(s.attributes) for s in spans],
            [s.status for s in spans], [Jsonb(s.mapped) for s in spans],
        ),
    )  # fmt: skip
    return max(cur.rowcount, 0)


def insert_span_retrievals(conn: Conn, spans: list[MappedSpan]) -> None:
    """Insert the chunks the spans retrieved; chunks already stored are left as they are."""
    rows = [(s, r) for s in spans for r in s.retrievals]
    if not rows:
        return
    conn.execute(
        """
        INSERT INTO retrievals (trace_id, span_id, rank, document_id, content, score)
        SELECT * FROM unnest(%b::text[], %b::text[], %b::int[], %b::text[], %b::text[],
                             %b::float8[])
        ON CONFLICT (trace_id, span_id, rank) DO NOTHING
        """,
        (
            [s.trace_id for s, _ in rows], [s.span_id for s, _ in rows],
            [r["rank"] for _, r in rows], [r.get("document_id") for _, r in rows],
            [r.get("content", "") for _, r in rows], [r.get("score") for _, r in rows],
        ),
    )  # fmt: skip


def assembly_spans(conn: Conn, trace_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """What assembly reads of each stored span, by trace, in start order.

    Each row has span_id, parent_span_id, kind, start_time, end_time, status and mapped.
    """
    by_trace: dict[str, list[dict[str, Any]]] = {}
    if not trace_ids:
        return by_trace
    for r in conn.execute(
        "SELECT trace_id, span_id, parent_span_id, kind, start_time, end_time, status, mapped"
        " FROM spans WHERE trace_id = ANY(%s) ORDER BY trace_id, start_time, span_id",
        (trace_ids,),
    ):
        by_trace.setdefault(r.pop("trace_id"), []).append(r)
    return by_trace


def trace_retrievals(conn: Conn, trace_ids: list[str]) -> dict[str, list[Retrieval]]:
    """The stored chunks of each trace, by span id then rank."""
    chunks: dict[str, list[Retrieval]] = {}
    if not trace_ids:
        return chunks
    for r in conn.execute(
        "SELECT trace_id, span_id, rank, document_id, content, score FROM retrievals"
        " WHERE trace_id = ANY(%s) ORDER BY trace_id, span_id, rank",
        (trace_ids,),
    ):
        chunks.setdefault(r.pop("trace_id"), []).append(Retrieval(**r))
    return chunks


def trace_heads(conn: Conn, trace_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What re-assembly keeps of each stored trace: app, attributes and user feedback."""
    if not trace_ids:
        return {}
    rows = conn.execute(
        "SELECT id, app, attributes, user_feedback FROM traces WHERE id = ANY(%s)", (trace_ids,)
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
