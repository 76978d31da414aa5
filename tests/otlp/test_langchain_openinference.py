"""A LangChain RAG chain instrumented with openinference-instrumentation-langchain.

The chain is real LangChain: the real PGVector retriever on the test database and a fake
chat model from langchain_core (the one stand-in: no LLM is called).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnablePassthrough
from langchain_postgres import PGVector
from openinference.instrumentation.langchain import LangChainInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from tests.otlp.conftest import RunningReceiver, tracer_provider
from vigil.knowledge_base import sqlalchemy_url

DOCS = {
    "warranty": "The Tempo Thermostat has a 3-year limited warranty covering defects.",
    "returns": "Returns are accepted within 60 days of delivery in the original packaging.",
    "setup": "Install the Orrin app, scan the QR code and join your Wi-Fi network.",
}
ANSWER = "The Tempo Thermostat has a 3-year warranty."


class ScoredRetriever(BaseRetriever):
    """PGVector search that keeps the id and relevance score in each document's metadata."""

    store: PGVector
    k: int = 2

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.store.similarity_search_with_relevance_scores(query, k=self.k)
        return [Document(page_content=d.page_content,
                         metadata={**d.metadata, "id": d.id, "score": round(s, 4)})
                for d, s in hits]  # fmt: skip


@pytest.fixture
def instrumented(receiver: RunningReceiver) -> Iterator[object]:
    exporter = OTLPSpanExporter(endpoint=receiver.traces_url,
                                headers={"Authorization": f"Bearer {receiver.key}"})  # fmt: skip
    provider = tracer_provider(exporter)
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    yield provider
    instrumentor.uninstrument()
    provider.shutdown()  # type: ignore[attr-defined]


@pytest.mark.parametrize("scored", [False, True], ids=["as_retriever", "scored-retriever"])
def test_a_langchain_rag_chain_yields_a_complete_trace(
    conn,
    db_url,
    embeddings,
    instrumented,
    scored: bool,  # type: ignore[no-untyped-def]
) -> None:
    # embedding_length: langchain-postgres caches its table models per process, so the
    # suite's tables keep a dimension (the knowledge-base queries' HNSW index needs one).
    store = PGVector(embeddings=embeddings, collection_name="lc-test", embedding_length=384,
                     connection=sqlalchemy_url(db_url), use_jsonb=True)  # fmt: skip
    store.add_documents([Document(page_content=t, metadata={"id": i}) for i, t in DOCS.items()],
                        ids=list(DOCS))  # fmt: skip
    retriever = (
        ScoredRetriever(store=store) if scored else store.as_retriever(search_kwargs={"k": 2})
    )
    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    llm = FakeListChatModel(responses=[ANSWER])
    chain = (
        {"context": retriever | (lambda docs: "\n".join(d.page_content for d in docs)),
         "question": RunnablePassthrough()}
        | prompt | llm | StrOutputParser()
    )  # fmt: skip
    assert chain.invoke("How long is the thermostat warranty?") == ANSWER
    instrumented.force_flush()  # type: ignore[attr-defined]

    row = conn.execute("SELECT * FROM traces").fetchone()
    assert row is not None and row["complete"]
    assert row["input"] == "How long is the thermostat warranty?"
    assert row["output"] == ANSWER
    assert row["tokens_in"] > 0 and row["tokens_out"] > 0  # the fake model reports none
    chunks = conn.execute(
        "SELECT document_id, content, score FROM retrievals ORDER BY rank"
    ).fetchall()
    assert chunks[0]["document_id"] == "warranty"
    assert chunks[0]["content"] == DOCS["warranty"] and len(chunks) == 2
    if scored:
        assert all(0 < c["score"] <= 1 for c in chunks)
        assert chunks[0]["score"] >= chunks[1]["score"]
    kinds = {r["kind"] for r in conn.execute("SELECT kind FROM spans")}
    assert {"chain", "retriever", "llm"} <= kinds
