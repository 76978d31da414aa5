"""Traces, spans and retrievals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.models import Retrieval, Span, Trace
from vigil.store import partitions

TRACE_COLUMNS = (
    "id, app, start_time, end_time, latency_ms, input, output, model, prompt_version, segment,"
    " tokens_in, tokens_out, cost_usd, status, user_feedback, attributes"
)


@dataclass(frozen=True)
class InsertResult:
    inserted: int
    already_present: int
    refused: list[str] = field(default_factory=list)  # ids whose start has no partition to go to


SPAN_COLUMNS = "trace_id, span_id, parent_span_id, kind, name, start_time, end_time, attributes"
RETRIEVAL_COLUMNS = "trace_id, span_id, rank, document_id, content, score"


def trace_row(t: Trace) -> tuple[object, ...]:
    """Values for TRACE_COLUMNS."""
    return (
        t.id, t.app, t.start_time, t.end_time, t.latency_ms, t.input, t.output, t.model,
        t.prompt_version, Jsonb(t.segment), t.tokens_in, t.tokens_out, t.cost_usd, t.status,
        t.user_feedback, Jsonb(t.attributes),
    )  # fmt: skip


def span_rows(t: Trace) -> list[tuple[object, ...]]:
    """Values for SPAN_COLUMNS, one tuple a span."""
    return [
        (t.id, s.span_id, s.parent_span_id, s.kind, s.name, s.start_time, s.end_time,
         Jsonb(s.attributes))
        for s in t.spans
    ]  # fmt: skip


def retrieval_rows(t: Trace) -> list[tuple[object, ...]]:
    """Values for RETRIEVAL_COLUMNS, one tuple a chunk."""
    return [(t.id, r.span_id, r.rank, r.document_id, r.content, r.score) for r in t.retrievals]


def insert_traces(conn: Conn, traces: list[Trace]) -> InsertResult:
    """Store whole traces (JSONL, SDK) with their spans and retrievals; ids already stored
    are left as they are, and the first of duplicates within the batch wins.

    Idempotent: re-sending the same traces inserts nothing twice. Run it inside a
    transaction so that a batch is stored whole or not at all. Whole traces are complete.
    Traces that start before the traces' retention, or more than a day ahead, are refused
    (see :func:`vigil.store.partitions.ensure`).
    """
    first: dict[str, Trace] = {}
    for t in traces:
        first.setdefault(t.id, t)
    refused = partitions.ensure(conn, [t.start_time for t in first.values()])
    unique = [t for t in first.values() if t.start_time not in refused]
    created = insert_trace_rows(conn, unique, [True] * len(unique))
    new = [t for t in unique if t.id in created]
    spans = [(*row, created[t.id]) for t in new for row in span_rows(t)]
    chunks = [(*row, created[t.id]) for t in new for row in retrieval_rows(t)]
    _unnest_insert(conn, "spans", f"{SPAN_COLUMNS}, part_time", _SPAN_TYPES, _SPAN_KEY, spans)
    _unnest_insert(
        conn, "retrievals", f"{RETRIEVAL_COLUMNS}, part_time", _RETRIEVAL_TYPES, _CHUNK_KEY, chunks
    )
    # A refused trace that is stored already (a file imported again after its week aged
    # past the retention) is a duplicate, not a refusal.
    refused_ids = [t.id for t in first.values() if t.start_time in refused]
    found = conn.execute("SELECT id FROM trace_ids WHERE id = ANY(%s)", (refused_ids,))
    stored = {r["id"] for r in found}
    gone = [i for i in refused_ids if i not in stored]
    return InsertResult(len(new), len(traces) - len(new) - len(gone), gone)


def insert_trace_rows(conn: Conn, traces: list[Trace], complete: list[bool]) -> dict[str, datetime]:
    """Insert trace rows only (no spans, no retrievals); returns the ids inserted, each with
    its ``part_time`` (its start time: the partition of the trace and of its rows).

    The one trace-insert path: whole traces and traces assembled from spans both come here.
    Ids already stored are skipped: ``trace_ids`` holds every id, whichever partition holds
    its trace, and a writer that inserts an id another one is inserting waits for it, then
    skips it. Rows go in id order, so that concurrent writers take their row locks in the
    same order and cannot deadlock. ``complete`` is one flag a trace. The caller made sure
    of the partitions (:func:`vigil.store.partitions.ensure`).
    """
    if not traces:
        return {}
    fields = f"{TRACE_COLUMNS}, complete"
    with partitions.partition_errors():
        rows = conn.execute(
            f"""
            WITH v AS (SELECT * FROM unnest({_TRACE_ARRAYS}) AS v({fields})),
            claimed AS (
                INSERT INTO trace_ids (id, part_time, app)
                SELECT id, start_time, app FROM v ORDER BY id
                ON CONFLICT (id) DO NOTHING
                RETURNING id, part_time)
            INSERT INTO traces ({fields}, part_time)
            SELECT v.*, c.part_time FROM v JOIN claimed c USING (id)
            RETURNING id, part_time
            """,
            _trace_arrays(traces, complete),
        )
        return {r["id"]: r["part_time"] for r in rows}


def update_trace_rows(
    conn: Conn, traces: list[Trace], complete: list[bool], part_times: list[datetime]
) -> None:
    """Rewrite stored trace rows from re-assembled traces (app and user feedback are kept).

    ``part_times`` are the partitions the traces are in (those of ``lock_trace_owners``):
    the update then reads only those.
    """
    if not traces:
        return
    conn.execute(
        f"""
        UPDATE traces t SET start_time = v.start_time, end_time = v.end_time,
            latency_ms = v.latency_ms, input = v.input, output = v.output, model = v.model,
            prompt_version = v.prompt_version, segment = v.segment, tokens_in = v.tokens_in,
            tokens_out = v.tokens_out, cost_usd = v.cost_usd, status = v.status,
            attributes = v.attributes, complete = v.complete, updated_at = now()
        FROM unnest({_TRACE_ARRAYS}) AS v({TRACE_COLUMNS}, complete)
        WHERE t.id = v.id AND t.part_time = ANY(%b::timestamptz[])
        """,
        [*_trace_arrays(traces, complete), sorted(set(part_times))],
    )


# Array types for TRACE_COLUMNS then ``complete``: rows are written as one array a column.
_TRACE_ARRAYS = ", ".join(
    f"%b::{kind}[]"
    for kind in (
        "text", "text", "timestamptz", "timestamptz", "float8", "text", "text", "text", "text",
        "jsonb", "int", "int", "float8", "text", "int2", "jsonb", "bool",
    )
)  # fmt: skip
_SPAN_TYPES = (
    "text", "text", "text", "text", "text", "timestamptz", "timestamptz", "jsonb", "timestamptz"
)  # fmt: skip
_RETRIEVAL_TYPES = ("text", "text", "int", "text", "text", "float8", "timestamptz")
_SPAN_KEY = "trace_id, span_id, part_time"
_CHUNK_KEY = "trace_id, span_id, rank, part_time"


def _trace_arrays(traces: list[Trace], complete: list[bool]) -> list[list[object]]:
    """TRACE_COLUMNS values then ``complete``, one list a column."""
    if len(complete) != len(traces):
        raise ValueError("one complete flag a trace")
    return [list(column) for column in zip(*(trace_row(t) for t in traces), strict=True)] + [
        list(complete)
    ]


def _unnest_insert(
    conn: Conn,
    table: str,
    columns: str,
    types: tuple[str, ...],
    key: str,
    rows: list[tuple[object, ...]],
) -> None:
    """Insert rows as one array a column: one statement, not one a row. Rows whose ``key``
    is already stored are skipped."""
    if not rows:
        return
    arrays = ", ".join(f"%b::{kind}[]" for kind in types)
    with partitions.partition_errors():
        conn.execute(
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})"
            f" ON CONFLICT ({key}) DO NOTHING",
            [list(column) for column in zip(*rows, strict=True)],
        )


def load_traces(conn: Conn, ids: list[str]) -> list[Trace]:
    """Traces with their retrievals and spans, in the order of ``ids`` (missing ids dropped)."""
    if not ids:
        return []
    parts = part_times(conn, ids)
    rows = conn.execute(
        f"SELECT {TRACE_COLUMNS} FROM traces WHERE id = ANY(%s) AND part_time = ANY(%s)",
        (ids, parts),
    ).fetchall()
    chunks: dict[str, list[Retrieval]] = {}
    for r in conn.execute(
        "SELECT trace_id, span_id, rank, document_id, content, score FROM retrievals"
        " WHERE trace_id = ANY(%s) AND part_time = ANY(%s) ORDER BY trace_id, span_id, rank",
        (ids, parts),
    ).fetchall():
        chunks.setdefault(r.pop("trace_id"), []).append(Retrieval(**r))
    spans: dict[str, list[Span]] = {}
    for r in conn.execute(
        "SELECT trace_id, span_id, parent_span_id, kind, name, start_time, end_time, attributes"
        " FROM spans WHERE trace_id = ANY(%s) AND part_time = ANY(%s)"
        " ORDER BY trace_id, start_time",
        (ids, parts),
    ).fetchall():
        spans.setdefault(r.pop("trace_id"), []).append(Span(**r))
    by_id = {
        r["id"]: Trace(**r, retrievals=chunks.get(r["id"], []), spans=spans.get(r["id"], []))
        for r in rows
    }
    return [by_id[i] for i in ids if i in by_id]


def part_times(conn: Conn, ids: list[str]) -> list[datetime]:
    """The distinct partitions (``part_time``) that hold the traces ``ids``: reads given
    ``part_time = ANY(...)`` touch only those partitions."""
    rows = conn.execute(
        "SELECT DISTINCT part_time FROM trace_ids WHERE id = ANY(%s) ORDER BY 1", (ids,)
    )
    return [r["part_time"] for r in rows]


def trace_apps(conn: Conn) -> list[str]:
    return [r["app"] for r in conn.execute("SELECT DISTINCT app FROM traces ORDER BY app")]
