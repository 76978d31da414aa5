"""Traces, spans and retrievals."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.models import Retrieval, Span, Trace

TRACE_COLUMNS = (
    "id, app, start_time, end_time, latency_ms, input, output, model, prompt_version, segment,"
    " tokens_in, tokens_out, cost_usd, status, user_feedback, attributes"
)


@dataclass(frozen=True)
class InsertResult:
    inserted: int
    already_present: int


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
    """Store traces with their spans and retrievals; ids already stored are left as they are.

    Idempotent: re-sending the same traces inserts nothing twice. Run it inside a
    transaction so that a batch is stored whole or not at all.
    """
    if not traces:
        return InsertResult(0, 0)
    ids = [t.id for t in traces]
    rows = conn.execute("SELECT id FROM traces WHERE id = ANY(%s)", (ids,)).fetchall()
    existing = {r["id"] for r in rows}
    first: dict[str, Trace] = {}  # the first of duplicates within the batch wins
    for t in traces:
        if t.id not in existing:
            first.setdefault(t.id, t)
    unique = list(first.values())
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO traces ({TRACE_COLUMNS}) VALUES ({_placeholders(16)})"
            " ON CONFLICT (id) DO NOTHING",
            [trace_row(t) for t in unique],
        )
        cur.executemany(
            f"INSERT INTO spans ({SPAN_COLUMNS}) VALUES ({_placeholders(8)})"
            " ON CONFLICT (trace_id, span_id) DO NOTHING",
            [row for t in unique for row in span_rows(t)],
        )
        cur.executemany(
            f"INSERT INTO retrievals ({RETRIEVAL_COLUMNS}) VALUES ({_placeholders(6)})"
            " ON CONFLICT (trace_id, span_id, rank) DO NOTHING",
            [row for t in unique for row in retrieval_rows(t)],
        )
    return InsertResult(len(unique), len(traces) - len(unique))


def _placeholders(n: int) -> str:
    return ",".join(["%s"] * n)


def load_traces(conn: Conn, ids: list[str]) -> list[Trace]:
    """Traces with their retrievals and spans, in the order of ``ids`` (missing ids dropped)."""
    if not ids:
        return []
    rows = conn.execute(f"SELECT {TRACE_COLUMNS} FROM traces WHERE id = ANY(%s)", (ids,)).fetchall()
    chunks: dict[str, list[Retrieval]] = {}
    for r in conn.execute(
        "SELECT trace_id, span_id, rank, document_id, content, score FROM retrievals"
        " WHERE trace_id = ANY(%s) ORDER BY trace_id, span_id, rank",
        (ids,),
    ).fetchall():
        chunks.setdefault(r.pop("trace_id"), []).append(Retrieval(**r))
    spans: dict[str, list[Span]] = {}
    for r in conn.execute(
        "SELECT trace_id, span_id, parent_span_id, kind, name, start_time, end_time, attributes"
        " FROM spans WHERE trace_id = ANY(%s) ORDER BY trace_id, start_time",
        (ids,),
    ).fetchall():
        spans.setdefault(r.pop("trace_id"), []).append(Span(**r))
    by_id = {
        r["id"]: Trace(**r, retrievals=chunks.get(r["id"], []), spans=spans.get(r["id"], []))
        for r in rows
    }
    return [by_id[i] for i in ids if i in by_id]


def trace_apps(conn: Conn) -> list[str]:
    return [r["app"] for r in conn.execute("SELECT DISTINCT app FROM traces ORDER BY app")]
