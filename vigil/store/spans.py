"""OTLP spans: stored idempotently, then assembled into their traces.

A trace's spans may arrive in several batches, from several receivers. Each batch inserts
what is new (keyed on trace and span ids) and re-assembles the traces it touched, in the
same transaction, so a trace row is always consistent with its spans. Traces first seen in
this batch are assembled from memory; traces seen before are re-read from the database.
Rows are written with array parameters (one statement a table), not row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.models import Retrieval, Trace
from vigil.otlp.mapping import MappedSpan


@dataclass(frozen=True)
class SpanWrite:
    stored: int  # spans written now
    duplicates: int  # spans already stored (a re-sent batch)
    rejected: list[str]  # spans refused, with the reason
    traces: list[str]  # trace ids touched


Enricher = Callable[[Trace], Trace]


def store_spans(conn: Conn, app: str, spans: list[MappedSpan], enrich: Enricher) -> SpanWrite:
    """Write a batch for ``app`` (call inside a transaction). Spans of a trace that belongs to
    another app are rejected: a key only writes its own app's traces."""
    if not spans:
        return SpanWrite(0, 0, [], [])
    by_trace: dict[str, list[MappedSpan]] = {}
    for s in spans:
        by_trace.setdefault(s.trace_id, []).append(s)
    owners = _lock_existing(conn, sorted(by_trace))
    # Traces first seen now are assembled in memory and inserted whole (one write each).
    fresh = [enrich(_from_memory(t, app, by_trace[t])) for t in sorted(by_trace) if t not in owners]
    created = _insert_traces(conn, fresh)
    raced = [t.id for t in fresh if t.id not in created]  # inserted meanwhile by another writer
    owners.update(_lock_existing(conn, raced))
    owners.update((t, app) for t in created)
    rejected = [
        f"span {s.span_id}: trace {s.trace_id} belongs to another app"
        for s in spans
        if owners.get(s.trace_id) != app
    ]
    mine = [s for s in spans if owners.get(s.trace_id) == app]
    if not mine:
        return SpanWrite(0, 0, rejected, [])
    stored = _insert_spans(conn, mine)
    _insert_retrievals(conn, mine)
    touched = sorted({s.trace_id for s in mine})
    again = [t for t in touched if t not in created]
    _update_traces(conn, [enrich(t) for t in _from_database(conn, again)])
    return SpanWrite(stored, len(mine) - stored, rejected, touched)


def _lock_existing(conn: Conn, ids: list[str]) -> dict[str, str]:
    """Owners (apps) of the traces among ``ids`` that exist, locked for this transaction."""
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT id, app FROM traces WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,)
    )
    return {r["id"]: r["app"] for r in rows}


def _insert_spans(conn: Conn, spans: list[MappedSpan]) -> int:
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


def _insert_retrievals(conn: Conn, spans: list[MappedSpan]) -> None:
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


def _from_memory(trace_id: str, app: str, spans: list[MappedSpan]) -> Trace:
    spans = sorted(spans, key=lambda s: (s.start_time, s.span_id))
    rows = [
        {"span_id": s.span_id, "parent_span_id": s.parent_span_id, "kind": s.kind,
         "start_time": s.start_time, "end_time": s.end_time, "status": s.status,
         "mapped": s.mapped}
        for s in spans
    ]  # fmt: skip
    chunks = [
        Retrieval(span_id=s.span_id, rank=r["rank"], document_id=r.get("document_id"),
                  content=r.get("content", ""), score=r.get("score"))
        for s in sorted(spans, key=lambda s: s.span_id)
        for r in s.retrievals
    ]  # fmt: skip
    return _assembled(trace_id, {"app": app, "attributes": {}, "user_feedback": None}, rows, chunks)


def _from_database(conn: Conn, trace_ids: list[str]) -> list[Trace]:
    if not trace_ids:
        return []
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for r in conn.execute(
        "SELECT trace_id, span_id, parent_span_id, kind, start_time, end_time, status, mapped"
        " FROM spans WHERE trace_id = ANY(%s) ORDER BY trace_id, start_time, span_id",
        (trace_ids,),
    ):
        by_trace.setdefault(r["trace_id"], []).append(r)
    chunks: dict[str, list[Retrieval]] = {}
    for r in conn.execute(
        "SELECT trace_id, span_id, rank, document_id, content, score FROM retrievals"
        " WHERE trace_id = ANY(%s) ORDER BY trace_id, span_id, rank",
        (trace_ids,),
    ):
        chunks.setdefault(r.pop("trace_id"), []).append(Retrieval(**r))
    rows = {
        r["id"]: r
        for r in conn.execute(
            "SELECT id, app, attributes, user_feedback FROM traces WHERE id = ANY(%s)",
            (trace_ids,),
        )
    }
    return [_assembled(t, rows[t], spans, chunks.get(t, [])) for t, spans in by_trace.items()]


_TRACE_ARRAYS = (
    "%b::text[], %b::timestamptz[], %b::timestamptz[], %b::float8[], %b::text[], %b::text[],"
    " %b::text[], %b::text[], %b::jsonb[], %b::int[], %b::int[], %b::float8[], %b::text[],"
    " %b::jsonb[], %b::bool[]"
)
_TRACE_FIELDS = (
    "id, start_time, end_time, latency_ms, input, output, model, prompt_version, segment,"
    " tokens_in, tokens_out, cost_usd, status, attributes, complete"
)


def _trace_arrays(traces: list[Trace]) -> tuple[list[Any], ...]:
    return (
        [t.id for t in traces], [t.start_time for t in traces],
        [t.end_time for t in traces], [t.latency_ms for t in traces],
        [t.input for t in traces], [t.output for t in traces],
        [t.model for t in traces], [t.prompt_version for t in traces],
        [Jsonb(t.segment) for t in traces], [t.tokens_in for t in traces],
        [t.tokens_out for t in traces], [t.cost_usd for t in traces],
        [t.status for t in traces], [Jsonb(t.attributes) for t in traces],
        [bool(t.attributes["vigil"]["root_ended"]) for t in traces],
    )  # fmt: skip


def _insert_traces(conn: Conn, traces: list[Trace]) -> set[str]:
    """Insert whole trace rows; returns the ids inserted (others exist already)."""
    if not traces:
        return set()
    app = traces[0].app
    rows = conn.execute(
        f"INSERT INTO traces (app, {_TRACE_FIELDS}) SELECT %s, v.* FROM unnest({_TRACE_ARRAYS})"
        f" AS v({_TRACE_FIELDS}) ORDER BY v.id ON CONFLICT (id) DO NOTHING RETURNING id",
        (app, *_trace_arrays(traces)),
    )
    return {r["id"] for r in rows}


def _update_traces(conn: Conn, traces: list[Trace]) -> None:
    if not traces:
        return
    conn.execute(
        f"""
        UPDATE traces t SET start_time = v.start_time, end_time = v.end_time,
            latency_ms = v.latency_ms, input = v.input, output = v.output, model = v.model,
            prompt_version = v.prompt_version, segment = v.segment, tokens_in = v.tokens_in,
            tokens_out = v.tokens_out, cost_usd = v.cost_usd, status = v.status,
            attributes = v.attributes, complete = v.complete, updated_at = now()
        FROM unnest({_TRACE_ARRAYS}) AS v({_TRACE_FIELDS})
        WHERE t.id = v.id
        """,
        _trace_arrays(traces),
    )


def _assembled(
    trace_id: str, row: dict[str, Any], spans: list[dict[str, Any]], chunks: list[Retrieval]
) -> Trace:
    """The trace that the spans describe (spans sorted by start time)."""
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if s["parent_span_id"] is None]
    root = roots[0] if roots else None
    llms = [s for s in spans if s["kind"] == "llm"]

    def first(key: str, order: list[dict[str, Any]]) -> Any:
        return next((s["mapped"][key] for s in order if key in s["mapped"]), None)

    def total(key: str) -> Any:
        values = [s["mapped"][key] for s in llms if key in s["mapped"]]
        return sum(values) if values else None

    head = ([root] if root else []) + llms + spans
    ends = [s["end_time"] for s in spans if s["end_time"] is not None]
    end = root["end_time"] if root else (max(ends) if ends else None)
    segment: dict[str, str] = {}
    for s in spans:
        segment.update(s["mapped"].get("segment", {}))
    vigil_attrs = {
        **row["attributes"].get("vigil", {}),
        "spans": len(spans),
        "root_span": root["span_id"] if root else None,
        "root_ended": bool(root and root["end_time"]),
        "orphans": sorted(
            s["span_id"] for s in spans if s["parent_span_id"] and s["parent_span_id"] not in ids
        ),
    }
    start = spans[0]["start_time"]
    return Trace(
        id=trace_id,
        app=row["app"],
        start_time=start,
        end_time=end if end and end >= start else None,
        input=first("input", head),
        output=first("output", ([root] if root else []) + llms[::-1] + spans),
        model=first("model", llms[::-1] + spans),
        prompt_version=first("prompt_version", head),
        segment=segment,
        tokens_in=total("tokens_in"),
        tokens_out=total("tokens_out"),
        cost_usd=total("cost_usd"),
        status="error" if any(s["status"] == "error" for s in spans) else "ok",
        user_feedback=row["user_feedback"],
        attributes={**row["attributes"], "vigil": vigil_attrs},
        retrievals=chunks,
    )


def complete_quiet_traces(conn: Conn, grace_seconds: int) -> int:
    """Mark complete the traces that got no span for ``grace_seconds`` (no root ever ended)."""
    cur = conn.execute(
        "UPDATE traces SET complete = true WHERE NOT complete"
        " AND updated_at < now() - make_interval(secs => %s)",
        (grace_seconds,),
    )
    return max(cur.rowcount, 0)
