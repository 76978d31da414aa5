"""Build the demo world in a database: the knowledge base, then the traffic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from cli.demo.corpus import build_corpus
from cli.demo.traffic import DemoPlan, generate_traffic
from vigil.db import connect
from vigil.knowledge_base import PGVectorStore, load_documents
from vigil.models import Retrieval
from vigil.store.traces import insert_traces

TOP_K = 4
BATCH = 500


@dataclass(frozen=True)
class WorldSummary:
    documents: int
    traces_inserted: int
    traces_already_present: int


def build_world(
    url: str,
    collection: str,
    plan: DemoPlan,
    embeddings: Embeddings,
    progress: Callable[[str], None] = print,
) -> WorldSummary:
    """Load the corpus into PGVector and store the plan's traffic; idempotent."""
    corpus = build_corpus()
    load_documents(
        url,
        collection,
        [
            Document(page_content=d.text, metadata={"title": d.title, "topic": d.topic})
            for d in corpus
        ],
        [d.id for d in corpus],
        embeddings,
    )
    progress(f"knowledge base: {len(corpus)} documents in PGVector collection {collection!r}")
    inserted = present = 0
    with connect(url, autocommit=True) as conn:
        store = PGVectorStore(conn, collection)
        cache: dict[str, list[Retrieval]] = {}

        def retrieve(question: str) -> list[Retrieval]:
            if question not in cache:
                vector = embeddings.embed_query(question)
                cache[question] = [
                    Retrieval(
                        document_id=h.document_id,
                        content=h.content,
                        score=round(h.similarity, 4),
                        rank=rank,
                    )
                    for rank, h in enumerate(store.search(vector, TOP_K))
                ]
            return cache[question]

        traffic = generate_traffic(plan, retrieve)
        while batch := list(islice(traffic, BATCH)):
            with conn.transaction():
                result = insert_traces(conn, batch)
            inserted += result.inserted
            present += result.already_present
            progress(
                f"traffic: {inserted + present} traces (up to {batch[-1].start_time:%Y-%m-%d})"
            )
    return WorldSummary(len(corpus), inserted, present)
