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
from dataclasses import dataclass, field
from datetime import datetime

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
from vigil.store import partitions
from vigil.store import spans as span_store
from vigil.store import traces as trace_store


@dataclass(frozen=True)
class SpanWrite:
    stored: int  # spans written now
    duplicates: int  # spans already stored (a re-sent batch)
    rejected: list[str]  # spans refused, with the reason
    traces: list[str]  # trace ids touched
    # why each rejected span was: other_app, older_than_retention or future_start
    reasons: list[str] = field(default_factory=list)


Enricher = Callable[[Trace], Trace]


def store_spans(conn: Conn, app: str, spans: list[MappedSpan], enrich: Enricher) -> SpanWrite:
    """Write a batch for ``app`` (call inside a transaction). Spans of a trace that belongs to
    another app are rejected: a key only writes its own app's traces. So are the spans of a
    new trace that starts before the traces' retention or more than a day ahead (a late
    span of a stored trace goes to that trace's partition, whatever its time)."""
    if not spans:
        return SpanWrite(0, 0, [], [])
    groups = by_trace(first_of_each(spans))
    # Partitions first, before any row lock: a new trace's part_time is its first span's start.
    starts = {t: min(s.start_time for s in group) for t, group in groups.items()}
    refused = partitions.ensure(conn, starts.values())
    owners = span_store.lock_trace_owners(conn, sorted(groups))
    # Traces first seen now are assembled in memory and inserted whole (one write each).
    fresh = [
        enrich(assemble_new(t, app, groups[t]))
        for t in sorted(groups)
        if t not in owners and starts[t] not in refused
    ]
    created = trace_store.insert_trace_rows(conn, fresh, [is_complete(t) for t in fresh])
    raced = [t.id for t in fresh if t.id not in created]  # inserted meanwhile by another writer
    owners.update(span_store.lock_trace_owners(conn, raced))
    owners.update((t, span_store.Owner(app, part)) for t, part in created.items())
    reasons = [_rejection(s, owners, app, starts, refused) for s in spans]
    rejected = [
        f"span {s.span_id}: trace {s.trace_id} {_REASONS[r]}"
        for s, r in zip(spans, reasons, strict=True)
        if r
    ]
    mine = sum(1 for r in reasons if not r)  # re-sent copies too
    if not mine:
        return SpanWrite(0, 0, rejected, [], [r for r in reasons if r])
    parts = {t: owner.part_time for t, owner in owners.items()}
    ours = sorted(t for t in groups if t in owners and owners[t].app == app)
    # A trace created now has no stored span: its spans are copied in. Spans of traces
    # stored before may have been sent before: those are inserted unless present.
    new = [s for t in sorted(created) for s in groups[t]]
    known = [s for t in ours if t not in created for s in groups[t]]
    span_store.copy_new_spans(conn, new, parts)
    stored = len(new) + span_store.insert_spans(conn, known, parts)
    span_store.insert_span_retrievals(conn, known, parts)
    stale = [t for t in ours if t not in created]
    again = [enrich(t) for t in reassembled(conn, stale, [parts[t] for t in stale])]
    trace_store.update_trace_rows(
        conn, again, [is_complete(t) for t in again], [parts[t.id] for t in again]
    )
    return SpanWrite(stored, mine - stored, rejected, ours, [r for r in reasons if r])


_REASONS = {
    "other_app": "belongs to another app",
    "older_than_retention": "starts before the traces' retention (`vigil retention show`)",
    "future_start": "starts more than a day ahead (check the sender's clock)",
}


def _rejection(
    span: MappedSpan,
    owners: dict[str, span_store.Owner],
    app: str,
    starts: dict[str, datetime],
    refused: set[datetime],
) -> str:
    """Why ``span`` is rejected, or '' if it is not."""
    owner = owners.get(span.trace_id)
    if owner is not None:
        return "" if owner.app == app else "other_app"
    if starts[span.trace_id] in refused:
        ahead = starts[span.trace_id] > datetime.now(starts[span.trace_id].tzinfo)
        return "future_start" if ahead else "older_than_retention"
    return "other_app"  # not stored, not refused: cannot happen, but never store it


def reassembled(
    conn: Conn, trace_ids: list[str], part_times: list[datetime] | None = None
) -> list[Trace]:
    """Stored traces assembled again from all of their stored spans (ids without spans are
    left out). ``part_times``: the traces' partitions, when the caller knows them."""
    parts = sorted(set(part_times)) if part_times is not None else []
    if part_times is None:
        parts = trace_store.part_times(conn, trace_ids)
    spans = span_store.assembly_spans(conn, trace_ids, parts)
    chunks = span_store.trace_retrievals(conn, list(spans), parts)
    heads = span_store.trace_heads(conn, list(spans), parts)
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
