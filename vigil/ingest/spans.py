"""Spans in (OTLP): stored idempotently, then assembled into their traces.

A trace's spans may arrive in several batches, from several receivers. Each batch inserts
what is new (keyed on trace and span ids) and re-assembles the traces it touched, in the
same transaction, so a trace row is always consistent with its spans. Traces first seen in
this batch are assembled from memory; traces seen before are re-read from the database.
The SQL is in :mod:`vigil.store.spans` and :mod:`vigil.store.traces`; the assembly rules in
:mod:`vigil.ingest.assembly`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vigil.db.types import Conn
from vigil.ingest.assembly import (
    SpanFacts,
    assemble,
    assemble_new,
    by_trace,
    first_of_each,
    is_complete,
)
from vigil.models import MappedSpan, Trace
from vigil.store import spans as span_store
from vigil.store import traces as trace_store


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
    groups = by_trace(first_of_each(spans))
    owners = span_store.lock_trace_owners(conn, sorted(groups))
    # Traces first seen now are assembled in memory and inserted whole (one write each).
    fresh = [enrich(assemble_new(t, app, groups[t])) for t in sorted(groups) if t not in owners]
    created = trace_store.insert_trace_rows(conn, fresh, [is_complete(t) for t in fresh])
    raced = [t.id for t in fresh if t.id not in created]  # inserted meanwhile by another writer
    owners.update(span_store.lock_trace_owners(conn, raced))
    owners.update((t, app) for t in created)
    rejected = [
        f"span {s.span_id}: trace {s.trace_id} belongs to another app"
        for s in spans
        if owners.get(s.trace_id) != app
    ]
    mine = sum(1 for s in spans if owners.get(s.trace_id) == app)  # re-sent copies too
    if not mine:
        return SpanWrite(0, 0, rejected, [])
    # A trace created now has no stored span: its spans are copied in. Spans of traces
    # stored before may have been sent before: those are inserted unless present.
    new = [s for t in sorted(created) for s in groups[t]]
    known = [s for t in sorted(groups) if t not in created and owners.get(t) == app
             for s in groups[t]]  # fmt: skip
    span_store.copy_new_spans(conn, new)
    stored = len(new) + span_store.insert_spans(conn, known)
    span_store.insert_span_retrievals(conn, known)
    touched = sorted(t for t in groups if owners.get(t) == app)
    again = [enrich(t) for t in reassembled(conn, [t for t in touched if t not in created])]
    trace_store.update_trace_rows(conn, again, [is_complete(t) for t in again])
    return SpanWrite(stored, mine - stored, rejected, touched)


def reassembled(conn: Conn, trace_ids: list[str]) -> list[Trace]:
    """Stored traces assembled again from all of their stored spans (ids without spans are
    left out)."""
    spans = span_store.assembly_spans(conn, trace_ids)
    chunks = span_store.trace_retrievals(conn, list(spans))
    heads = span_store.trace_heads(conn, list(spans))
    return [
        assemble(
            t,
            heads[t]["app"],
            [SpanFacts(**row) for row in rows],
            chunks.get(t, []),
            attributes=heads[t]["attributes"],
            user_feedback=heads[t]["user_feedback"],
        )
        for t, rows in spans.items()
    ]


def complete_quiet_traces(conn: Conn, grace_seconds: int) -> int:
    """Complete the traces whose root span never ended, once no span came for
    ``grace_seconds``: a crashed or unsampled root must not keep a trace out of evaluation.

    Returns how many traces were completed.
    """
    if grace_seconds < 0:
        raise ValueError("grace_seconds must be >= 0")
    return span_store.complete_quiet_traces(conn, grace_seconds)
