"""Re-retrieval agreement against a real PGVector store: it catches index drift."""

from __future__ import annotations

from langchain_core.documents import Document

from evaluators import Resources, build
from vigil.knowledge_base import PGVectorStore, load_documents
from vigil.models import Retrieval, Trace

DOCS = {
    "warranty": "The thermostat has a 3-year warranty covering defects.",
    "returns": "Returns are accepted within 60 days of delivery.",
    "setup": "Install the app, scan the QR code and join your Wi-Fi network.",
    "privacy": "Recordings are encrypted in transit and at rest.",
    "pricing": "The thermostat costs 199 dollars; the plan costs 2 dollars a month.",
}


def test_overlap_drops_when_the_index_drifts(conn, db_url, embeddings, provider) -> None:  # type: ignore[no-untyped-def]
    load_documents(
        db_url, "kb-test", [Document(page_content=t) for t in DOCS.values()], list(DOCS), embeddings
    )
    store = PGVectorStore(conn, "kb-test")
    assert store.count() == 5
    question = "How long is the thermostat warranty?"
    hits = store.search(embeddings.embed_query(question), 2)
    assert hits[0].document_id == "warranty"
    then = [Retrieval(document_id=h.document_id, content=h.content) for h in hits]
    trace = Trace(
        id="t",
        app="a",
        start_time="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
        input=question,
        output="3 years.",
        retrievals=then,
    )
    [evaluator] = build(["retrieval_agreement"], Resources(provider, store))
    [before] = evaluator.evaluate([trace])
    assert before.status == "scored" and before.value == 1.0

    conn.execute("DELETE FROM langchain_pg_embedding WHERE id = 'warranty'")
    [after] = evaluator.evaluate([trace])
    assert after.status == "scored" and after.value == 0.5
    assert "no longer retrieved: warranty" in (after.explanation or "")
    assert after.metadata["no_longer_retrieved"] == ["warranty"]
    assert after.metadata["newly_retrieved"] == [
        d for d in after.metadata["retrieved_now"] if d not in {h.document_id for h in hits}
    ]
    assert len(after.metadata["newly_retrieved"]) == 1


def test_k_counts_each_retrieved_id_once(conn, db_url, embeddings, provider) -> None:  # type: ignore[no-untyped-def]
    load_documents(
        db_url, "kb-test", [Document(page_content=t) for t in DOCS.values()], list(DOCS), embeddings
    )
    question = "How long is the thermostat warranty?"
    # Two retriever spans returned the warranty chunk; the top 2 today are the same two ids.
    [top, second] = PGVectorStore(conn, "kb-test").search(embeddings.embed_query(question), 2)
    chunks = [
        Retrieval(document_id=top.document_id, content=top.content, span_id="s1", rank=0),
        Retrieval(document_id=second.document_id, content=second.content, span_id="s1", rank=1),
        Retrieval(document_id=top.document_id, content=top.content, span_id="s2", rank=0),
    ]
    trace = Trace(
        id="t",
        app="a",
        start_time="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
        input=question,
        retrievals=chunks,
    )
    [evaluator] = build(
        ["retrieval_agreement"], Resources(provider, PGVectorStore(conn, "kb-test"))
    )
    [result] = evaluator.evaluate([trace])
    assert result.value == 1.0 and result.metadata["k"] == 2
    assert result.metadata["retrieved_then"] == [top.document_id, second.document_id]


def check_without_store(provider, chunk: Retrieval) -> str | None:  # type: ignore[no-untyped-def]
    """The explanation the check gives a one-chunk trace when no store is configured."""
    trace = Trace(
        id="t",
        app="a",
        start_time="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
        input="q",
        output="a",
        retrievals=[chunk],
    )
    [evaluator] = build(["retrieval_agreement"], Resources(provider, None))
    [result] = evaluator.evaluate([trace])
    assert result.status == "skipped" and result.value is None
    return result.explanation


def test_without_a_store_the_check_is_skipped(provider) -> None:  # type: ignore[no-untyped-def]
    reason = check_without_store(provider, Retrieval(document_id="d", content="c"))
    assert reason is not None and "no vector store" in reason


def test_traces_without_document_ids_are_skipped(provider) -> None:  # type: ignore[no-untyped-def]
    assert check_without_store(provider, Retrieval(content="c")) == "trace has no document_ids"
