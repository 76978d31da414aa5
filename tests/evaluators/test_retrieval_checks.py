"""Stale context and retrieval confidence against a real PGVector store and the real model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from evaluators import Resources
from evaluators.providers import MiniLMProvider
from evaluators.retrieval_confidence import RetrievalConfidence
from evaluators.retrieval_store import NO_STORE, ChunkLookup
from evaluators.stale_context import StaleContext
from vigil.db.types import Conn
from vigil.ingest.text import text_filter
from vigil.knowledge_base import PGVectorStore, load_documents
from vigil.models import Retrieval, Score, Trace

START = datetime(2026, 1, 1, tzinfo=UTC)
COLLECTION = "kb-checks"
DOCS = {
    "warranty": "The thermostat has a 3-year warranty covering defects.",
    "returns": "Returns are accepted within 60 days of delivery.",
    "setup": "Install the app, scan the QR code and join your Wi-Fi network.",
    "privacy": "Recordings are encrypted in transit and at rest.",
    "pricing": "The thermostat costs 199 dollars; the plan costs 2 dollars a month.",
}


class CountingEmbeddings(Embeddings):
    """The real model, recording every text Vigil asks it to embed (it delegates, fakes nothing)."""

    def __init__(self, model: Embeddings) -> None:
        self.model = model
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.texts.append(text)
        return self.model.embed_query(text)


class SearchOnlyStore:
    """A store that can search but not look chunks up by id (the base VectorStore contract)."""

    def __init__(self, store: PGVectorStore) -> None:
        self.inner = store

    def search(self, vector: Sequence[float], k: int) -> Sequence[Any]:
        return self.inner.search(vector, k)


def load(
    db_url: str, docs: dict[str, str], embeddings: Embeddings, collection: str = COLLECTION
) -> None:
    load_documents(
        db_url,
        collection,
        [Document(page_content=t) for t in docs.values()],
        list(docs),
        embeddings,
    )


@pytest.fixture
def store(conn: Conn, db_url: str, embeddings: Embeddings) -> PGVectorStore:
    """The app's knowledge base, embedded by the app (the real model, not counted)."""
    load(db_url, DOCS, embeddings)
    return PGVectorStore(conn, COLLECTION)


@pytest.fixture
def counting(embeddings: Embeddings) -> CountingEmbeddings:
    return CountingEmbeddings(embeddings)


@pytest.fixture
def vigil_provider(counting: CountingEmbeddings) -> MiniLMProvider:
    """Vigil's provider, with an empty cache, embedding through the counting wrapper."""
    return MiniLMProvider(counting)


def trace(question: str, chunks: list[tuple[str, str]], tid: str = "t") -> Trace:
    return Trace(
        id=tid,
        app="a",
        start_time=START,
        input=question,
        output="an answer",
        retrievals=[Retrieval(document_id=d, content=c) for d, c in chunks],
    )


def recorded(*ids: str) -> list[tuple[str, str]]:
    return [(i, DOCS[i]) for i in ids]


# -- PGVectorStore.chunks ---------------------------------------------------------------------


def test_chunks_returns_current_rows_with_their_stored_embeddings(
    store: PGVectorStore, db_url: str, embeddings: Embeddings
) -> None:
    rows = store.chunks(["warranty", "returns", "nope", "warranty"])
    assert sorted(rows) == ["returns", "warranty"]
    assert rows["warranty"].content == DOCS["warranty"]
    stored = rows["warranty"].embedding
    assert stored is not None and stored.dtype == np.float32 and stored.shape == (384,)
    np.testing.assert_allclose(stored, embeddings.embed_documents([DOCS["warranty"]])[0], atol=1e-5)
    assert store.chunks([]) == {}

    load(db_url, {"elsewhere": "A chunk of another app."}, embeddings, collection="other-kb")
    assert store.chunks(["elsewhere"]) == {}  # another collection's rows stay out


# -- stale_context ----------------------------------------------------------------------------


def test_stale_context_names_the_deleted_and_the_edited_chunks(
    store: PGVectorStore, conn: Conn, db_url: str, embeddings: Embeddings, provider: MiniLMProvider
) -> None:
    chunks = recorded("warranty", "returns", "pricing")
    chunks.insert(
        2, ("setup", "Install the app,\n  scan the QR code\tand join your Wi-Fi network. ")
    )
    t = trace("How do I set it up?", chunks)
    evaluator = StaleContext(Resources(provider, store))
    [before] = evaluator.evaluate([t])
    assert before.status == "scored" and before.value == 1.0
    assert before.metadata["missing"] == [] and before.metadata["changed"] == []

    conn.execute("DELETE FROM langchain_pg_embedding WHERE id = 'returns'")
    load(db_url, {"warranty": "The thermostat has a 5-year warranty."}, embeddings)  # re-indexed
    conn.execute(  # whitespace only: not a change
        "UPDATE langchain_pg_embedding SET document = replace(document, ' ', '   ')"
        " WHERE id = 'setup'"
    )
    [after] = evaluator.evaluate([t])
    assert after.status == "scored" and after.value == 0.5
    assert after.metadata == {
        "checked": 4,
        "missing": ["returns"],
        "changed": ["warranty"],
        "content_not_recorded": [],
    }
    assert after.explanation == (
        "2 of 4 retrieved chunks are in the store unchanged; no longer in the store: returns;"
        " text changed since the trace: warranty"
    )


def test_without_recorded_text_only_presence_is_checked(
    store: PGVectorStore, provider: MiniLMProvider
) -> None:
    t = trace("q", [("privacy", ""), ("gone", "  ")])
    [result] = StaleContext(Resources(provider, store)).evaluate([t])
    assert result.value == 0.5
    assert result.metadata["missing"] == ["gone"] and result.metadata["changed"] == []
    assert result.metadata["content_not_recorded"] == ["privacy", "gone"]
    assert "only presence was checked" in (result.explanation or "")


def test_truncated_and_masked_recordings_are_not_changes(
    store: PGVectorStore, conn: Conn, db_url: str, embeddings: Embeddings, provider: MiniLMProvider
) -> None:
    text = "Write to help@example.com for a spare part; parts ship within two working days."
    load(db_url, {"support": text}, embeddings)
    as_ingested = text_filter(max_chars=40, redact_pii=True)(text)
    assert "[EMAIL]" in as_ingested and "[truncated" in as_ingested
    t = trace("q", [("support", as_ingested)])
    evaluator = StaleContext(Resources(provider, store))
    [same] = evaluator.evaluate([t])
    assert same.value == 1.0, same.explanation

    conn.execute(
        "UPDATE langchain_pg_embedding SET document = %s WHERE id = 'support'",
        (text.replace("two working days", "a week"),),
    )
    [edited] = evaluator.evaluate([t])
    assert edited.value == 0.0 and edited.metadata["changed"] == ["support"]


# -- retrieval_confidence ---------------------------------------------------------------------


def test_confidence_is_high_on_topic_and_low_off_topic(
    store: PGVectorStore,
    embeddings: Embeddings,
    counting: CountingEmbeddings,
    vigil_provider: MiniLMProvider,
) -> None:
    def as_retrieved(question: str) -> Trace:  # what the app retrieved: the store's top 2
        hits = store.search(embeddings.embed_query(question), 2)
        return trace(question, [(h.document_id, h.content) for h in hits], tid=question)

    on_topic = as_retrieved("How long is the warranty on the thermostat?")
    off_topic = as_retrieved("Who painted the ceiling of the Sistine Chapel?")
    evaluator = RetrievalConfidence(Resources(vigil_provider, store))
    on, off = evaluator.evaluate([on_topic, off_topic])

    assert on.label == "ok" and on.value is not None and on.value > 0.7
    assert on.metadata["top_document_id"] == "warranty"
    assert off.label == "low_confidence"
    assert off.value is not None and off.value < RetrievalConfidence.threshold
    assert "no retrieved chunk is close to the question" in (off.explanation or "")
    # Only the questions were embedded: every chunk vector came from the store.
    assert counting.texts == [on_topic.input, off_topic.input]


def test_confidence_uses_the_vector_the_store_holds(
    store: PGVectorStore, conn: Conn, embeddings: Embeddings, vigil_provider: MiniLMProvider
) -> None:
    t = trace("How long is the warranty on the thermostat?", recorded("warranty"))
    evaluator = RetrievalConfidence(Resources(vigil_provider, store))
    [before] = evaluator.evaluate([t])
    assert before.label == "ok"

    # The app re-embedded the chunk badly; the text is the same. The score follows the vector.
    unrelated = np.asarray(embeddings.embed_query("A recipe for tomato soup."), dtype=np.float32)
    conn.execute(
        "UPDATE langchain_pg_embedding SET embedding = %s WHERE id = 'warranty'", (unrelated,)
    )
    [after] = evaluator.evaluate([t])
    assert after.label == "low_confidence"


def test_chunks_missing_from_the_store_are_embedded_from_the_trace(
    store: PGVectorStore, counting: CountingEmbeddings, vigil_provider: MiniLMProvider
) -> None:
    old = "Warranty claims need the original receipt."
    question = "How long is the warranty on the thermostat?"
    t = trace(question, [("old-faq", old), ("returns", DOCS["returns"]), ("ghost", "")])
    [result] = RetrievalConfidence(Resources(vigil_provider, store)).evaluate([t])

    assert result.status == "scored"
    assert result.metadata["embedded_from_trace"] == ["old-faq"]
    assert result.metadata["not_scored"] == ["ghost"]
    assert set(result.metadata["similarities"]) == {"old-faq", "returns"}
    assert "embedded from the trace's text: old-faq" in (result.explanation or "")
    assert counting.texts == [question, old]  # "returns" came from the store


def test_a_rewritten_chunk_is_judged_on_the_text_that_was_retrieved(
    store: PGVectorStore,
    db_url: str,
    embeddings: Embeddings,
    counting: CountingEmbeddings,
    vigil_provider: MiniLMProvider,
) -> None:
    question = "How long is the warranty on the thermostat?"
    t = trace(question, recorded("warranty"))
    load(db_url, {"warranty": "Our office dog is called Biscuit."}, embeddings)  # rewritten
    [result] = RetrievalConfidence(Resources(vigil_provider, store)).evaluate([t])
    assert result.label == "ok"  # the context the app used was on topic
    assert result.metadata["embedded_from_trace"] == ["warranty"]
    assert counting.texts == [question, DOCS["warranty"]]


def test_nothing_to_compare_is_skipped(
    store: PGVectorStore, vigil_provider: MiniLMProvider
) -> None:
    t = trace("q", [("ghost", "")])
    [result] = RetrievalConfidence(Resources(vigil_provider, store)).evaluate([t])
    assert result.status == "skipped" and "no retrieved chunk is in the store" in (
        result.explanation or ""
    )


# -- without a store that can look chunks up ---------------------------------------------------


@pytest.mark.parametrize("evaluator", [StaleContext, RetrievalConfidence])
def test_without_a_store_the_checks_are_skipped(
    evaluator: type[StaleContext | RetrievalConfidence], provider: MiniLMProvider
) -> None:
    [result] = evaluator(Resources(provider, None)).evaluate([trace("q", recorded("warranty"))])
    assert result == Score.skipped(NO_STORE)


@pytest.mark.parametrize("evaluator", [StaleContext, RetrievalConfidence])
def test_a_store_without_chunk_lookup_is_skipped_politely(
    evaluator: type[StaleContext | RetrievalConfidence],
    store: PGVectorStore,
    provider: MiniLMProvider,
) -> None:
    assert isinstance(store, ChunkLookup)
    search_only = SearchOnlyStore(store)
    assert not isinstance(search_only, ChunkLookup)
    [result] = evaluator(Resources(provider, search_only)).evaluate(
        [trace("q", recorded("warranty"))]
    )
    assert result.status == "skipped"
    assert "SearchOnlyStore" in (result.explanation or "")
    assert "chunks(ids)" in (result.explanation or "")


# -- the threshold on real data -----------------------------------------------------------------


@pytest.mark.shared_data
def test_threshold_separates_answerable_from_off_topic_questions(
    shared_data: Path, conn: Conn, db_url: str, embeddings: Embeddings, provider: MiniLMProvider
) -> None:
    """SciFact claims with their relevant abstract are mostly ok; HotpotQA questions asked of
    the same SciFact store are mostly low_confidence (the docstring of the evaluator gives the
    full-corpus numbers behind the default)."""
    folder = shared_data / "scifact"
    claims = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open())}
    qrels = [line.split("\t") for line in (folder / "qrels.tsv").read_text().splitlines()[1:]]
    pairs = [(q, d) for q, d, _ in qrels if q in claims][:30]
    wanted = {d for _, d in pairs}
    corpus: dict[str, str] = {}
    for line in (folder / "corpus.jsonl").open():
        doc = json.loads(line)
        if doc["_id"] in wanted:
            corpus[doc["_id"]] = f"{doc['title']}. {doc['text']}"
    load(db_url, corpus, embeddings, collection="scifact")
    store = PGVectorStore(conn, "scifact")
    answerable = [
        trace(claims[q], [(d, corpus[d])], tid=f"{q}-{d}") for q, d in pairs if d in corpus
    ]
    records = [json.loads(line) for line in (shared_data / "groundedness-dev.jsonl").open()]
    off_topic = []
    for record in records[:30]:
        [hit] = store.search(embeddings.embed_query(record["question"]), 1)
        off_topic.append(trace(record["question"], [(hit.document_id, hit.content)], record["id"]))

    evaluator = RetrievalConfidence(Resources(provider, store))
    ok = [s.label == "ok" for s in evaluator.evaluate(answerable)]
    low = [s.label == "low_confidence" for s in evaluator.evaluate(off_topic)]
    assert len(ok) >= 25 and np.mean(ok) >= 0.8
    assert np.mean(low) >= 0.9
