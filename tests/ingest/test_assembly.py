"""Trace assembly from spans: pure functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vigil.ingest.assembly import (
    SpanFacts,
    assemble,
    assemble_new,
    by_trace,
    is_complete,
    orphans_of,
    retrievals_of,
    root_of,
)
from vigil.models import MappedSpan, Retrieval

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def span(
    span_id: str,
    parent: str | None = None,
    *,
    kind: str = "chain",
    start: int = 0,
    end: int | None = 100,
    status: str = "ok",
    **mapped: Any,
) -> SpanFacts:
    return SpanFacts(span_id, parent, kind, at(start), None if end is None else at(end),
                     status, mapped)  # fmt: skip


def build(*spans: SpanFacts, **kw: Any) -> Any:
    return assemble("t1", "bot", list(spans), [], **kw)


def test_the_root_is_the_span_without_a_parent_and_gives_the_trace_its_end() -> None:
    root = span("a", start=0, end=900, input="q?", output="a.")
    child = span("b", "a", kind="llm", start=10, end=950)  # ends after the root: root wins
    trace = build(child, root)
    assert root_of([child, root]) == root
    assert trace.start_time == at(0) and trace.end_time == at(900)
    assert trace.latency_ms == pytest.approx(900.0)
    facts = trace.attributes["vigil"]
    assert facts == {"spans": 2, "root_span": "a", "root_ended": True, "orphans": []}
    assert is_complete(trace)


def test_two_parentless_spans_the_earliest_is_the_root() -> None:
    late, early = span("z", start=50, output="late"), span("y", start=5, output="early")
    assert root_of([late, early]) == early
    assert build(late, early).output == "early"


def test_a_trace_without_its_root_yet_is_not_complete() -> None:
    first = span("b", "a", kind="llm", start=10, end=200)
    second = span("c", "a", kind="tool", start=20, end=300)
    trace = build(first, second)
    facts = trace.attributes["vigil"]
    assert facts["root_span"] is None and facts["root_ended"] is False
    assert not is_complete(trace)
    assert trace.start_time == at(10)
    assert trace.end_time == at(300)  # the latest end seen until the root arrives
    assert facts["orphans"] == ["b", "c"]


def test_a_root_that_has_not_ended_leaves_the_trace_open() -> None:
    trace = build(span("a", end=None), span("b", "a", start=5, end=80))
    assert trace.end_time is None and trace.latency_ms is None
    assert trace.attributes["vigil"]["root_ended"] is False
    assert not is_complete(trace)


def test_orphans_are_spans_whose_parent_has_not_arrived() -> None:
    spans = [span("a"), span("b", "a"), span("d", "c"), span("c2", "gone")]
    assert orphans_of(spans) == ["c2", "d"]
    assert build(*spans).attributes["vigil"]["orphans"] == ["c2", "d"]


def test_input_comes_from_the_root_then_the_first_llm_call() -> None:
    root = span("a", start=0, input="user question")
    llm1 = span("b", "a", kind="llm", start=10, input="prompt 1", output="draft", model="m-1")
    llm2 = span("c", "a", kind="llm", start=20, input="prompt 2", output="final", model="m-2")
    tool = span("d", "a", kind="tool", start=5, input="tool in", output="tool out", model="x")
    trace = build(tool, llm2, root, llm1)
    assert trace.input == "user question"
    assert trace.output == "final"  # no output on the root: the last LLM call answers
    assert trace.model == "m-2"  # the last LLM call's model, never a tool's
    without_root = build(tool, llm2, llm1)
    assert without_root.input == "prompt 1"  # the first LLM call, before any other span


def test_the_roots_output_wins_over_the_llm_calls() -> None:
    trace = build(span("a", output="root answer"), span("b", "a", kind="llm", output="draft"))
    assert trace.output == "root answer"


def test_without_llm_spans_fields_come_from_the_earliest_span_that_has_them() -> None:
    trace = build(
        span("a", start=0),
        span("b", "a", start=10, model="embedder", prompt_version="v1"),
        span("c", "a", start=20, model="other", prompt_version="v2", output="o"),
    )
    assert (trace.model, trace.prompt_version, trace.output) == ("embedder", "v1", "o")
    assert trace.input is None


def test_prompt_version_prefers_the_root() -> None:
    trace = build(span("a", prompt_version="root-v"), span("b", "a", kind="llm",
                                                           prompt_version="llm-v"))  # fmt: skip
    assert trace.prompt_version == "root-v"


def test_tokens_and_cost_are_summed_over_llm_spans_only() -> None:
    trace = build(
        span("a", tokens_in=999, cost_usd=9.0),  # a chain that repeats its children's totals
        span("b", "a", kind="llm", start=1, tokens_in=100, tokens_out=10, cost_usd=0.25),
        span("c", "a", kind="llm", start=2, tokens_in=50, cost_usd=0.5),
    )
    assert trace.tokens_in == 150
    assert trace.tokens_out == 10
    assert trace.cost_usd == pytest.approx(0.75)


def test_unreported_totals_stay_unknown_not_zero() -> None:
    trace = build(span("a", tokens_in=5), span("b", "a", kind="llm"))
    assert (trace.tokens_in, trace.tokens_out, trace.cost_usd) == (None, None, None)


def test_segments_merge_across_spans_a_later_span_wins_a_key() -> None:
    trace = build(
        span("a", start=0, segment={"route": "policy", "tenant": "acme"}),
        span("b", "a", start=10, segment={"route": "billing", "locale": "fr"}),
    )
    assert trace.segment == {"route": "billing", "tenant": "acme", "locale": "fr"}


def test_one_span_in_error_makes_the_trace_an_error() -> None:
    assert build(span("a"), span("b", "a")).status == "ok"
    assert build(span("a"), span("b", "a", status="error")).status == "error"


def test_an_end_before_the_start_is_dropped() -> None:
    trace = build(span("a", start=500, end=100))  # clock skew between services
    assert trace.start_time == at(500)
    assert trace.end_time is None and trace.latency_ms is None
    assert trace.attributes["vigil"]["root_ended"] is True  # the root did end


def test_reassembly_keeps_the_stored_attributes_feedback_and_flags() -> None:
    stored = {"customer": "acme", "vigil": {"priced_as": "gpt-4o@2024-10-01", "spans": 1}}
    trace = build(span("a"), span("b", "a"), attributes=stored, user_feedback=-1)
    assert trace.user_feedback == -1
    assert trace.attributes["customer"] == "acme"
    assert trace.attributes["vigil"]["priced_as"] == "gpt-4o@2024-10-01"
    assert trace.attributes["vigil"]["spans"] == 2  # assembly facts are recomputed
    assert stored["vigil"]["spans"] == 1  # and the caller's dict is left alone


def test_a_trace_needs_at_least_one_span() -> None:
    with pytest.raises(ValueError, match="no spans"):
        build()


def mapped_span(trace_id: str, span_id: str, start: int, **kw: Any) -> MappedSpan:
    return MappedSpan(trace_id=trace_id, span_id=span_id, parent_span_id=kw.pop("parent", None),
                      name=span_id, kind=kw.pop("kind", "chain"), start_time=at(start),
                      end_time=at(start + 10), status="ok", attributes={}, **kw)  # fmt: skip


def test_a_new_trace_is_assembled_from_received_spans_with_their_chunks() -> None:
    received = [
        mapped_span("t1", "r2", 5, parent="root", kind="retriever", retrievals=[
            {"rank": 1, "document_id": "d2", "content": "two", "score": 0.5},
            {"rank": 0, "document_id": "d1", "content": "one"}]),
        mapped_span("t2", "x", 0),
        mapped_span("t1", "root", 0, mapped={"input": "q?", "output": "a."}),
        mapped_span("t1", "r1", 3, parent="root", kind="retriever",
                    retrievals=[{"rank": 0, "content": "zero", "score": 0.9}]),
    ]  # fmt: skip
    groups = by_trace(received)
    assert {t: [s.span_id for s in g] for t, g in groups.items()} == {
        "t1": ["r2", "root", "r1"], "t2": ["x"]
    }  # fmt: skip
    assert [(c.span_id, c.rank, c.document_id) for c in retrievals_of(groups["t1"])] == [
        ("r1", 0, None), ("r2", 0, "d1"), ("r2", 1, "d2")
    ]  # fmt: skip
    trace = assemble_new("t1", "bot", groups["t1"])
    assert (trace.id, trace.app, trace.input, trace.output) == ("t1", "bot", "q?", "a.")
    assert trace.retrievals[0] == Retrieval(span_id="r1", rank=0, content="zero", score=0.9)
    assert trace.contexts == ["zero", "one", "two"]
    assert trace.attributes["vigil"]["root_span"] == "root"
    assert trace.user_feedback is None


def test_derived_segment_keys_take_the_root_spans_value_when_spans_disagree() -> None:
    root = span("a", start=0, derived_segment={"service.version": "1.0", "route": "faq"})
    child = span("b", "a", start=10, derived_segment={"service.version": "2.0",
                                                       "param.temperature": "0.7"})  # fmt: skip
    later = span("c", "b", start=20, derived_segment={"param.temperature": "0.2"})
    trace = build(later, child, root)
    assert trace.segment == {"service.version": "1.0", "route": "faq", "param.temperature": "0.2"}
    # Until the root arrives, the latest span wins; once it does, the root's values do.
    assert build(child).segment == {"service.version": "2.0", "param.temperature": "0.7"}


def test_explicit_vigil_segment_keys_win_over_derived_ones_across_spans() -> None:
    trace = build(
        span("a", start=0, derived_segment={"route": "from-metadata", "tenant": "acme"}),
        span("b", "a", start=10, segment={"route": "billing"}),
    )
    assert trace.segment == {"route": "billing", "tenant": "acme"}


def test_session_and_user_ids_are_trace_facts_the_roots_first() -> None:
    trace = build(
        span("b", "a", start=10, session_id="child-session", user_id="u1"),
        span("a", start=0, session_id="root-session"),
    )
    facts = trace.attributes["vigil"]
    assert (facts["session_id"], facts["user_id"]) == ("root-session", "u1")
    assert "session_id" not in trace.segment and "user_id" not in trace.segment
    again = build(span("a", start=0), attributes={"vigil": {"session_id": "stale", "x": 1}})
    assert "session_id" not in again.attributes["vigil"] and again.attributes["vigil"]["x"] == 1
