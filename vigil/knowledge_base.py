"""The monitored application's knowledge base: a LangChain PGVector store.

Documents are written with ``langchain_postgres.PGVector`` into its standard tables, exactly
as a LangChain RAG app does. Retrieval checks read those tables through
:class:`PGVectorStore`, whose table names are configurable for apps with their own schema.
The chunk embeddings already in the table are reused, never recomputed. This module keeps the
LangChain side; its queries live in :mod:`vigil.store.knowledge_base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from vigil.db import connect, register_vectors
from vigil.db.types import Conn
from vigil.embeddings import DIMENSION
from vigil.store import knowledge_base as kb


@dataclass(frozen=True)
class Hit:
    document_id: str
    content: str
    similarity: float  # cosine similarity, 1 = identical direction


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the store holds it now: its text and the embedding the app computed."""

    document_id: str
    content: str
    embedding: npt.NDArray[np.float32] | None = field(compare=False)  # None: row has no vector


def sqlalchemy_url(url: str) -> str:
    """PGVector speaks SQLAlchemy; point it at psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_documents(
    url: str,
    collection: str,
    documents: Sequence[Document],
    ids: Sequence[str],
    embeddings: Embeddings,
) -> int:
    """Upsert documents into the PGVector collection and make sure it has an HNSW index.

    Ids make it idempotent: a re-run rewrites the same rows. Returns the number written.
    """
    from langchain_postgres import PGVector

    store = PGVector(
        embeddings=embeddings,
        collection_name=collection,
        connection=sqlalchemy_url(url),
        embedding_length=DIMENSION,
        use_jsonb=True,
    )
    store.add_documents(list(documents), ids=list(ids))
    ensure_hnsw_index(url)
    return len(ids)


def ensure_hnsw_index(url: str, table: str = kb.EMBEDDING_TABLE) -> None:
    """PGVector creates no vector index; add an HNSW index on cosine distance."""
    with connect(url, autocommit=True) as conn:
        kb.ensure_hnsw_index(conn, table)


class PGVectorStore:
    """Read access to a LangChain-style pgvector store, for retrieval checks.

    It takes an open connection (the caller owns it) and the collection name. Table and
    column names default to langchain-postgres's schema.
    """

    def __init__(
        self,
        conn: Conn,
        collection: str,
        *,
        embedding_table: str = kb.EMBEDDING_TABLE,
        collection_table: str = kb.COLLECTION_TABLE,
        ef_search: int = 100,
    ) -> None:
        self.conn = conn
        self.collection = collection
        self.embedding_table = embedding_table
        self.collection_table = collection_table
        self.ef_search = ef_search
        register_vectors(conn)

    def search(self, vector: Sequence[float], k: int) -> list[Hit]:
        """The k nearest chunks of the collection by cosine distance (HNSW, iterative scan)."""
        rows = kb.nearest(
            self.conn,
            self.collection,
            vector,
            k,
            embedding_table=self.embedding_table,
            collection_table=self.collection_table,
            ef_search=self.ef_search,
        )
        return [Hit(*row) for row in rows]

    def chunks(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        """The collection's current rows for these ids, in one query; absent ids are left out.

        Retrieval checks compare a trace with these rows and reuse their embeddings instead of
        embedding the chunk text again.
        """
        rows = kb.chunks_by_id(
            self.conn,
            self.collection,
            ids,
            embedding_table=self.embedding_table,
            collection_table=self.collection_table,
        )
        return {row[0]: StoredChunk(*row) for row in rows}

    def count(self) -> int:
        return kb.count_chunks(
            self.conn,
            self.collection,
            embedding_table=self.embedding_table,
            collection_table=self.collection_table,
        )
