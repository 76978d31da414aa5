"""OTLP spans: stored idempotently, then assembled into their traces.

A trace's spans may arrive in several batches, from several receivers. Each batch inserts
what is new (keyed on trace and span ids) and re-assembles the traces it touched from all
of their stored spans, in the same transaction, so a trace row is always consistent with
its spans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.models import Retrieval, Trace
from vigil.otlp.mapping import MappedSpan
from vigil.store.traces import RETRIEVAL_COLUMNS


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
    first_start: dict[str, datetime] = {}
    for s in spans:
        first_start[s.trace_id] = min(first_start.get(s.trace_id, s.start_time), s.start_time)
    ids = sorted(first_start)
    conn.execute(
        "INSERT INTO traces (id, app, start_time, complete, updated_at)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::bool[],"
        " %s::timestamptz[]) ON CONFLICT (id) DO NOTHING",
        (ids, [app] * len(ids), [first_start[i] for i in ids], [False] * len(ids),
         [datetime.now().astimezone()] * len(ids)),
    )  # fmt: skip
    owners = {
        r["id"]: r["app"]
        for r in conn.execute("SELECT id, app FROM traces WHERE id = ANY(%s) FOR UPDATE", (ids,))
    }
    rejected = [
        f"span {s.span_id}: trace {s.trace_id} belongs to another app" for s in spans
        if owners.get(s.trace_id) != app
    ]  # fmt: skip
    mine = [s for s in spans if owners.get(s.trace_id) == app]
    if not mine:
        return SpanWrite(0, 0, rejected, [])
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO spans (trace_id, span_id, parent_span_id, kind, name, start_time,"
            " end_time, attributes, status, mapped) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (trace_id, span_id) DO NOTHING RETURNING 1",
            [
                (s.trace_id, s.span_id, s.parent_span_id, s.kind, s.name, s.start_time,
                 s.end_time, Jsonb(s.attributes), s.status, Jsonb(s.mapped))
                for s in mine
            ],
            returning=True,
        )  # fmt: skip
        stored = 0
        while True:
            stored += len(cur.fetchall())
            if not cur.nextset():
                break
        cur.executemany(
            f"INSERT INTO retrievals ({RETRIEVAL_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (trace_id, span_id, rank) DO NOTHING",
            [
                (s.trace_id, s.span_id, r["rank"], r.get("document_id"), r.get("content", ""),
                 r.get("score"))
                for s in mine
                for r in s.mapped.get("retrievals", [])
            ],
        )  # fmt: skip
    touched = sorted({s.trace_id for s in mine})
    assemble(conn, touched, enrich)
    return SpanWrite(stored, len(mine) - stored, rejected, touched)


def assemble(conn: Conn, trace_ids: list[str], enrich: Enricher) -> None:
    """Recompute trace rows from all their stored spans."""
    if not trace_ids:
        return
    rows = conn.execute(
        "SELECT trace_id, span_id, parent_span_id, kind, start_time, end_time, status, mapped"
        " FROM spans WHERE trace_id = ANY(%s) ORDER BY trace_id, start_time, span_id",
        (trace_ids,),
    ).fetchall()
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_trace.setdefault(r["trace_id"], []).append(r)
    chunks = _retrievals(conn, trace_ids)
    apps = {r["id"]: r for r in conn.execute(
        "SELECT id, app, attributes, user_feedback FROM traces WHERE id = ANY(%s)", (trace_ids,)
    )}  # fmt: skip
    for trace_id, spans in by_trace.items():
        trace = enrich(_assembled(trace_id, apps[trace_id], spans, chunks.get(trace_id, [])))
        conn.execute(
            """
            UPDATE traces SET start_time = %s, end_time = %s, latency_ms = %s, input = %s,
                output = %s, model = %s, prompt_version = %s, segment = %s, tokens_in = %s,
                tokens_out = %s, cost_usd = %s, status = %s, attributes = %s, complete = %s,
                updated_at = now()
            WHERE id = %s
            """,
            (trace.start_time, trace.end_time, trace.latency_ms, trace.input, trace.output,
             trace.model, trace.prompt_version, Jsonb(trace.segment), trace.tokens_in,
             trace.tokens_out, trace.cost_usd, trace.status, Jsonb(trace.attributes),
             bool(trace.attributes.get("vigil", {}).get("root_ended")), trace_id),
        )  # fmt: skip


def _retrievals(conn: Conn, trace_ids: list[str]) -> dict[str, list[Retrieval]]:
    out: dict[str, list[Retrieval]] = {}
    for r in conn.execute(
        "SELECT trace_id, span_id, rank, document_id, content, score FROM retrievals"
        " WHERE trace_id = ANY(%s) ORDER BY trace_id, span_id, rank",
        (trace_ids,),
    ):
        out.setdefault(r.pop("trace_id"), []).append(Retrieval(**r))
    return out


def _assembled(
    trace_id: str, row: dict[str, Any], spans: list[dict[str, Any]], chunks: list[Retrieval]
) -> Trace:
    """The trace that the spans describe (spans sorted by start time)."""
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if s["parent_span_id"] is None]
    root = roots[0] if roots else None
    llms = [s for s in spans if s["kind"] == "llm"]
    m = [s["mapped"] for s in spans]

    def first(key: str, order: list[dict[str, Any]]) -> Any:
        return next((s["mapped"][key] for s in order if key in s["mapped"]), None)

    def total(key: str) -> Any:
        values = [s["mapped"][key] for s in llms if key in s["mapped"]]
        return sum(values) if values else None

    head = ([root] if root else []) + llms + spans
    ends = [s["end_time"] for s in spans if s["end_time"] is not None]
    end = root["end_time"] if root else (max(ends) if ends else None)
    segment: dict[str, str] = {}
    for mapped in m:
        segment.update(mapped.get("segment", {}))
    vigil_attrs = {
        **row["attributes"].get("vigil", {}),
        "spans": len(spans),
        "root_span": root["span_id"] if root else None,
        "root_ended": bool(root and root["end_time"]),
        "orphans": sorted(s["span_id"] for s in spans
                          if s["parent_span_id"] and s["parent_span_id"] not in ids),
    }  # fmt: skip
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
