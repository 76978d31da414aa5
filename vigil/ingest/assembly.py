"""Trace assembly: the trace that a set of spans describes. Pure functions, no database.

Spans of one trace arrive in any order and in several batches, so a trace is re-assembled
from all of its spans each time one arrives. The root span (no parent) gives the trace its
question, answer and end; LLM spans give model, tokens and cost; the segment merges all
spans' (see :func:`segment_of`). A trace is complete once its root span has ended; one
whose root never ends is completed after a grace period
(see :func:`vigil.ingest.spans.complete_quiet_traces`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any

from vigil.models import MappedSpan, Retrieval, Trace

IDENTITIES = ("session_id", "user_id")  # mapped from session.id / user.id, kept as trace facts


@dataclass(frozen=True, slots=True)
class SpanFacts:
    """What assembly reads of a span: its place in the tree, timing, status, mapped fields.

    The same whether the span came in this batch or was read back from the database.
    """

    span_id: str
    parent_span_id: str | None
    kind: str
    start_time: datetime
    end_time: datetime | None
    status: str
    mapped: Mapping[str, Any]

    @classmethod
    def of(cls, span: MappedSpan) -> SpanFacts:
        return cls(span.span_id, span.parent_span_id, span.kind, span.start_time,
                   span.end_time, span.status, span.mapped)  # fmt: skip


def by_trace(spans: Iterable[MappedSpan]) -> dict[str, list[MappedSpan]]:
    """Spans grouped by trace id, in arrival order within a trace."""
    groups: dict[str, list[MappedSpan]] = {}
    for s in spans:
        groups.setdefault(s.trace_id, []).append(s)
    return groups


def first_of_each(spans: Iterable[MappedSpan]) -> list[MappedSpan]:
    """The spans without repeats: a span (trace and span id) sent twice in one batch counts
    once, as sent first, as it would had the copies come in two batches."""
    seen: dict[tuple[str, str], MappedSpan] = {}
    for s in spans:
        seen.setdefault((s.trace_id, s.span_id), s)
    return list(seen.values())


def retrievals_of(spans: Iterable[MappedSpan]) -> list[Retrieval]:
    """The chunks the spans retrieved, by span id then rank (the order the store reads them)."""
    return [
        Retrieval(span_id=s.span_id, rank=r["rank"], document_id=r.get("document_id"),
                  content=r.get("content", ""), score=r.get("score"))
        for s in sorted(spans, key=attrgetter("span_id"))
        for r in sorted(s.retrievals, key=itemgetter("rank"))
    ]  # fmt: skip


def assemble_new(trace_id: str, app: str, spans: Sequence[MappedSpan]) -> Trace:
    """A trace first seen in this batch: built from its spans alone."""
    return assemble(trace_id, app, [SpanFacts.of(s) for s in spans], retrievals_of(spans))


def root_of(spans: Sequence[SpanFacts]) -> SpanFacts | None:
    """The root span: the earliest span without a parent (None until the root arrives)."""
    return _root(_ordered(spans))


def _root(ordered: Sequence[SpanFacts]) -> SpanFacts | None:
    for s in ordered:
        if s.parent_span_id is None:
            return s
    return None


def orphans_of(spans: Iterable[SpanFacts]) -> list[str]:
    """Ids of spans whose parent has not arrived (yet), sorted."""
    ids = {s.span_id for s in spans}
    return sorted(s.span_id for s in spans if s.parent_span_id and s.parent_span_id not in ids)


def is_complete(trace: Trace) -> bool:
    """Whether an assembled trace is complete: its root span has ended."""
    return bool(trace.attributes["vigil"]["root_ended"])


def assemble(
    trace_id: str,
    app: str,
    spans: Sequence[SpanFacts],
    retrievals: list[Retrieval],
    *,
    attributes: Mapping[str, Any] | None = None,
    user_feedback: int | None = None,
) -> Trace:
    """The trace that ``spans`` (at least one, any order) describe.

    ``attributes`` and ``user_feedback`` are what the stored trace already carries (kept
    across re-assembly); assembly facts go under ``attributes["vigil"]``.
    """
    if not spans:
        raise ValueError(f"trace {trace_id}: no spans to assemble")
    spans = _ordered(spans)
    root = _root(spans)
    llms = [s for s in spans if s.kind == "llm"]
    top = [root] if root else []
    start = spans[0].start_time
    end = _end(spans, root)
    kept = dict(attributes or {})
    facts = {
        **_with_identity(kept.get("vigil", {}), spans, root),
        "spans": len(spans),
        "root_span": root.span_id if root else None,
        "root_ended": bool(root and root.end_time),
        "orphans": orphans_of(spans),
    }
    return Trace(
        id=trace_id,
        app=app,
        start_time=start,
        end_time=end if end and end >= start else None,  # a clock-skewed end is dropped
        input=_first("input", [*top, *llms, *spans]),
        output=_first("output", [*top, *llms[::-1], *spans]),  # the last LLM call answers
        model=_first("model", [*llms[::-1], *spans]),
        prompt_version=_first("prompt_version", [*top, *llms, *spans]),
        segment=_segment(spans, root),
        tokens_in=_total("tokens_in", llms),
        tokens_out=_total("tokens_out", llms),
        cost_usd=_total("cost_usd", llms),
        status="error" if any(s.status == "error" for s in spans) else "ok",
        user_feedback=user_feedback,  # as stored: -1, 0, 1 or None
        attributes={**kept, "vigil": facts},
        retrievals=retrievals,
    )


def _ordered(spans: Sequence[SpanFacts]) -> list[SpanFacts]:
    return sorted(spans, key=lambda s: (s.start_time, s.span_id))


def _end(spans: Sequence[SpanFacts], root: SpanFacts | None) -> datetime | None:
    """The root's end once there is a root; until then, the latest end seen."""
    if root:
        return root.end_time
    ends = [s.end_time for s in spans if s.end_time is not None]
    return max(ends) if ends else None


def _first(key: str, order: Iterable[SpanFacts]) -> Any:
    """The value of ``key`` in the first span of ``order`` that mapped it."""
    for s in order:
        if key in s.mapped:
            return s.mapped[key]
    return None


def _total(key: str, llms: Sequence[SpanFacts]) -> Any:
    """A sum over LLM spans; None when no LLM span reported it (unknown, not zero)."""
    values = [s.mapped[key] for s in llms if key in s.mapped]
    return sum(values) if values else None


def segment_of(spans: Sequence[SpanFacts]) -> dict[str, str]:
    """The trace's segment, from its spans' (any order).

    Derived keys (conventions, metadata, promoted attributes; ``mapped["derived_segment"]``)
    merge in start order, a later span winning a key, then the root's win: when spans
    disagree, the trace is what its entry point said (another service's version, a
    sub-agent's metadata do not relabel it). Explicit ``vigil.segment.*`` keys
    (``mapped["segment"]``) keep their rule, a later span wins: an app that sets one on a
    child span (a router deciding the route) means to refine the root's. They win over
    derived keys, as they do within a span.
    """
    ordered = _ordered(spans)
    return _segment(ordered, _root(ordered))


def _segment(ordered: Sequence[SpanFacts], root: SpanFacts | None) -> dict[str, str]:
    derived: dict[str, str] = {}
    for s in [*(s for s in ordered if s is not root), *([root] if root else [])]:
        derived.update(s.mapped.get("derived_segment", {}))
    explicit: dict[str, str] = {}
    for s in ordered:
        explicit.update(s.mapped.get("segment", {}))
    return {**derived, **explicit}


def identity_of(spans: Sequence[SpanFacts]) -> dict[str, str]:
    """Session and user ids of the trace: the root's, else the earliest span's."""
    ordered = _ordered(spans)
    return _identity(ordered, _root(ordered))


def _identity(ordered: Sequence[SpanFacts], root: SpanFacts | None) -> dict[str, str]:
    top = [root] if root else []
    found = {key: _first(key, [*top, *ordered]) for key in IDENTITIES}
    return {key: value for key, value in found.items() if value is not None}


def with_identity(facts: Mapping[str, Any], spans: Sequence[SpanFacts]) -> dict[str, Any]:
    """Trace facts (``attributes["vigil"]``) with the spans' session and user ids."""
    ordered = _ordered(spans)
    return _with_identity(facts, ordered, _root(ordered))


def _with_identity(facts: Mapping[str, Any], ordered: Sequence[SpanFacts],
                   root: SpanFacts | None) -> dict[str, Any]:  # fmt: skip
    return {**{k: v for k, v in facts.items() if k not in IDENTITIES}, **_identity(ordered, root)}
