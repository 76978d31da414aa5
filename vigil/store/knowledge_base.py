"""Queries over the monitored app's LangChain PGVector tables (see :mod:`vigil.knowledge_base`).

Table names come from settings, so they are quoted as identifiers and the collection name is
a literal. Vector parameters and columns need pgvector's types on the connection
(:func:`vigil.db.register_vectors`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from psycopg import sql

from vigil.db.types import Conn

EMBEDDING_TABLE = "langchain_pg_embedding"
COLLECTION_TABLE = "langchain_pg_collection"

Vector = npt.NDArray[np.float32]


def table_exists(conn: Conn, table: str) -> bool:
    """Whether ``table`` exists (on the search path): an app may not have a store yet."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (table,)).fetchone()
    return bool(row and row["found"])


def ensure_hnsw_index(conn: Conn, table: str = EMBEDDING_TABLE) -> None:
    """PGVector creates no vector index; add an HNSW index on cosine distance."""
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding vector_cosine_ops)"
        ).format(sql.Identifier(f"{table}_hnsw_idx"), sql.Identifier(table))
    )


def _in_collection(collection: str, collection_table: str) -> sql.Composed:
    return sql.SQL("collection_id = (SELECT uuid FROM {} WHERE name = {})").format(
        sql.Identifier(collection_table), sql.Literal(collection)
    )


def nearest(
    conn: Conn,
    collection: str,
    vector: Sequence[float],
    k: int,
    *,
    embedding_table: str = EMBEDDING_TABLE,
    collection_table: str = COLLECTION_TABLE,
    ef_search: int = 100,
) -> list[tuple[str, str, float]]:
    """(id, text, cosine similarity) of the k nearest chunks of ``collection``, nearest first.

    Runs in its own transaction (a savepoint inside the caller's) so that the HNSW settings
    are local to it.
    """
    query = sql.SQL(
        "SELECT id, document, 1 - (embedding <=> %s) AS similarity FROM {}"
        " WHERE {} ORDER BY embedding <=> %s LIMIT %s"
    ).format(sql.Identifier(embedding_table), _in_collection(collection, collection_table))
    vec = np.asarray(vector, dtype=np.float32)
    with conn.transaction():
        # Filtered HNSW scans may return fewer than k rows without iterative scans.
        conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef_search)))
        rows = conn.execute(query, (vec, vec, k)).fetchall()
    return [(str(r["id"]), str(r["document"] or ""), float(r["similarity"])) for r in rows]


def chunks_by_id(
    conn: Conn,
    collection: str,
    ids: Sequence[str],
    *,
    embedding_table: str = EMBEDDING_TABLE,
    collection_table: str = COLLECTION_TABLE,
) -> list[tuple[str, str, Vector | None]]:
    """(id, text, stored embedding or None) of the rows of ``collection`` with these ids,
    in one query; absent ids are left out."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    query = sql.SQL(
        "SELECT id, document, embedding FROM {} WHERE {} AND id = ANY(%s::text[])"
    ).format(sql.Identifier(embedding_table), _in_collection(collection, collection_table))
    rows = conn.execute(query, (wanted,)).fetchall()
    return [
        (
            str(r["id"]),
            str(r["document"] or ""),
            None if r["embedding"] is None else np.asarray(r["embedding"], dtype=np.float32),
        )
        for r in rows
    ]


def count_chunks(
    conn: Conn,
    collection: str,
    *,
    embedding_table: str = EMBEDDING_TABLE,
    collection_table: str = COLLECTION_TABLE,
) -> int:
    """How many chunks ``collection`` holds."""
    query = sql.SQL("SELECT count(*) AS n FROM {} WHERE {}").format(
        sql.Identifier(embedding_table), _in_collection(collection, collection_table)
    )
    row = conn.execute(query).fetchone()
    return int(row["n"]) if row else 0
