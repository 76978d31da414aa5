"""OTLP spans: the SQL behind assembling traces from spans (see :mod:`vigil.ingest.spans`).

Spans and their chunks are inserted idempotently (keyed on trace and span ids, then rank,
and the trace's ``part_time``, which places them in its partition); the traces they belong
to are locked (their ``trace_ids`` rows) while a batch is written and read back to be
re-assembled. Spans of a trace that the same transaction created cannot be stored yet, so
they go in with ``COPY`` (binary), the cheapest write PostgreSQL has; the others with array
parameters and ``ON CONFLICT DO NOTHING`` (one statement a table), never row by row.
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


# Each row ends with its trace's part_time: the partition it goes to, and part of its key.
_SPAN_COLUMNS = ("trace_id", "span_id", "parent_span_id", "kind", "name", "start_time",
                 "end_time", "attributes", "status", "mapped", "part_time")  # fmt: skip
_SPAN_TYPES = ("text", "text", "text", "text", "text", "timestamptz", "timestamptz", "jsonb",
               "text", "jsonb", "timestamptz")  # fmt: skip
_CHUNK_COLUMNS = ("trace_id", "span_id", "rank", "document_id", "content", "score", "part_time")
_CHUNK_TYPES = ("text", "text", "int4", "text", "text", "float8", "timestamptz")
Parts = dict[str, datetime]  # trace id -> part_time


def _span_rows(spans: list[MappedSpan], parts: Parts) -> list[tuple[object, ...]]:
    return [
        (s.trace_id, s.span_id, s.parent_span_id, s.kind, s.name, s.start_time, s.end_time,
         Jsonb(s.attributes), s.status, Jsonb(s.mapped), parts[s.trace_id])
        for s in spans
    ]  # fmt: skip


def _chunk_rows(spans: list[MappedSpan], parts: Parts) -> list[tuple[object, ...]]:
    return [
        (s.trace_id, s.span_id, r["rank"], r.get("document_id"), r.get("content", ""),
         r.get("score"), parts[s.trace_id])
        for s in spans
        for r in s.retrievals
    ]  # fmt: skip


def copy_new_spans(conn: Conn, spans: list[MappedSpan], parts: Parts) -> None:
    """Write spans, and the chunks they retrieved, of traces created in this transaction
    (``parts``: their part_time): nothing of theirs can be stored yet, so there is no
    conflict to skip. Each (trace, span) must appear once in ``spans``."""
    with conn.cursor() as cur:
        for table, columns, types, rows in (
            ("spans", _SPAN_COLUMNS, _SPAN_TYPES, _span_rows(spans, parts)),
            ("retrievals", _CHUNK_COLUMNS, _CHUNK_TYPES, _chunk_rows(spans, parts)),
        ):
            if not rows:
                continue
            names = ", ".join(columns)
            with cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)


def insert_spans(conn: Conn, spans: list[MappedSpan], parts: Parts) -> int:
    """Insert spans not stored yet, each into its trace's partition (``parts``); returns how
    many were new (the rest are re-sent)."""
    return _insert_new(conn, "spans", _SPAN_COLUMNS, _SPAN_TYPES, 2, _span_rows(spans, parts))


def insert_span_retrievals(conn: Conn, spans: list[MappedSpan], parts: Parts) -> None:
    """Insert the chunks the spans retrieved, in their trace's partition; chunks already
    stored are left as they are."""
    rows = _chunk_rows(spans, parts)
    _insert_new(conn, "retrievals", _CHUNK_COLUMNS, _CHUNK_TYPES, 3, rows)


def _insert_new(conn: Conn, table: str, columns: tuple[str, ...], types: tuple[str, ...],
                key: int, rows: list[tuple[object, ...]]) -> int:  # fmt: skip
    """Insert ``rows`` (one array a column: one statement) unless their key, the first
    ``key`` columns and the part_time, is stored; returns how many were inserted."""
    if not rows:
        return 0
    arrays = ", ".join(f"%b::{kind}[]" for kind in types)
    cur = conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join((*columns[:key], 'part_time'))}) DO NOTHING",
        [list(column) for column in zip(*rows, strict=True)],
    )
    return max(cur.rowcount, 0)


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
