"""The local TruLens provider and the built-in evaluators, on the real MiniLM model."""

from __future__ import annotations

from trulens.core import Provider

from evaluators import Resources, build
from vigil.models import Retrieval, Trace

CONTEXT = (
    "The Lumen Doorbell comes with a 2-year limited warranty covering manufacturing defects. "
    "Returns are accepted within 45 days of delivery."
)


def rag_trace(tid: str, answer: str) -> Trace:
    return Trace(
        id=tid,
        app="a",
        start_time="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
        input="How long is the warranty on the Lumen Doorbell?",
        output=answer,
        retrievals=[Retrieval(document_id="d1", content=CONTEXT)],
    )


def test_the_provider_is_a_trulens_provider(provider) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(provider, Provider)
    on_topic = provider.relevance("How long is the warranty?", "The warranty lasts 2 years.")
    off_topic = provider.relevance("How long is the warranty?", "Bananas are rich in potassium.")
    assert 0.0 <= off_topic < on_topic <= 1.0


def test_groundedness_separates_supported_from_made_up(provider) -> None:  # type: ignore[no-untyped-def]
    grounded = "The Lumen Doorbell has a 2-year limited warranty covering manufacturing defects."
    made_up = "The Lumen Doorbell has a 7-year warranty, and Orrin Shield extends it for life."
    g, g_reasons = provider.groundedness_measure_with_cot_reasons([CONTEXT], grounded)
    m, m_reasons = provider.groundedness_measure_with_cot_reasons([CONTEXT], made_up)
    assert g > m + 0.2
    assert "7" in m_reasons["reason"] and "Shield" in m_reasons["reason"]
    assert g_reasons["sentences"][0]["unsupported"] == []


def test_builtin_evaluators_score_a_batch(provider) -> None:  # type: ignore[no-untyped-def]
    traces = [
        rag_trace("good", "The warranty is 2 years and covers manufacturing defects."),
        rag_trace("bad", "It has a 9-year warranty from Acme Insurance."),
    ]
    ev_relevance, ev_grounded = build(["answer_relevance", "groundedness"], Resources(provider))
    relevance = ev_relevance.evaluate(traces)
    grounded = ev_grounded.evaluate(traces)
    assert all(s.status == "scored" for s in relevance + grounded)
    assert grounded[0].value is not None and grounded[1].value is not None
    assert grounded[0].value > grounded[1].value
    assert "Acme" in (grounded[1].explanation or "")
    assert len(grounded[0].metadata["sentences"]) == 1
