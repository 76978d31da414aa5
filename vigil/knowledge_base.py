"""The monitored application's knowledge base: a LangChain PGVector store.

Documents are written with ``langchain_postgres.PGVector`` into its standard tables, exactly
as a LangChain RAG app does. Retrieval checks read those tables through
:class:`PGVectorStore`, whose table names are configurable for apps with their own schema.
The chunk embeddings already in the table are reused, never recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import psycopg
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from pgvector.psycopg import register_vector
from psycopg import sql

from vigil.db.types import Conn
from vigil.embeddings import DIMENSION


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


def ensure_hnsw_index(url: str, table: str = "langchain_pg_embedding") -> None:
    """PGVector creates no vector index; add an HNSW index on cosine distance."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding vector_cosine_ops)"
            ).format(sql.Identifier(f"{table}_hnsw_idx"), sql.Identifier(table))
        )


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
        embedding_table: str = "langchain_pg_embedding",
        collection_table: str = "langchain_pg_collection",
        ef_search: int = 100,
    ) -> None:
        self.conn = conn
        self.collection = collection
        self.embedding_table = embedding_table
        self.collection_table = collection_table
        self.ef_search = ef_search
        register_vector(conn)

    def _collection_filter(self) -> sql.Composed:
        return sql.SQL("collection_id = (SELECT uuid FROM {} WHERE name = {})").format(
            sql.Identifier(self.collection_table), sql.Literal(self.collection)
        )

    def search(self, vector: Sequence[float], k: int) -> list[Hit]:
        """The k nearest chunks of the collection by cosine distance (HNSW, iterative scan)."""
        import numpy as np

        query = sql.SQL(
            "SELECT id, document, 1 - (embedding <=> %s) AS similarity FROM {}"
            " WHERE {} ORDER BY embedding <=> %s LIMIT %s"
        ).format(sql.Identifier(self.embedding_table), self._collection_filter())
        vec = np.asarray(vector, dtype=np.float32)
        with self.conn.transaction():
            # Filtered HNSW scans may return fewer than k rows without iterative scans.
            self.conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            self.conn.execute(
                sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(self.ef_search))
            )
            rows = self.conn.execute(query, (vec, vec, k)).fetchall()
        return [Hit(str(r["id"]), str(r["document"] or ""), float(r["similarity"])) for r in rows]

    def chunks(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        """The collection's current rows for these ids, in one query; absent ids are left out.

        Retrieval checks compare a trace with these rows and reuse their embeddings instead of
        embedding the chunk text again.
        """
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        query = sql.SQL(
            "SELECT id, document, embedding FROM {} WHERE {} AND id = ANY(%s::text[])"
        ).format(sql.Identifier(self.embedding_table), self._collection_filter())
        rows = self.conn.execute(query, (wanted,)).fetchall()
        return {
            str(r["id"]): StoredChunk(
                str(r["id"]),
                str(r["document"] or ""),
                None if r["embedding"] is None else np.asarray(r["embedding"], dtype=np.float32),
            )
            for r in rows
        }

    def count(self) -> int:
        query = sql.SQL("SELECT count(*) AS n FROM {} WHERE {}").format(
            sql.Identifier(self.embedding_table), self._collection_filter()
        )
        row = self.conn.execute(query).fetchone()
        return int(row["n"]) if row else 0
