"""The knowledge-base queries against real PGVector tables written by LangChain."""

from __future__ import annotations

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from vigil.db import register_vectors
from vigil.db.types import Conn
from vigil.knowledge_base import load_documents
from vigil.store import knowledge_base as kb

DOCS = {
    "warranty": "The thermostat has a 3-year warranty covering defects.",
    "returns": "Returns are accepted within 60 days of delivery.",
    "setup": "Install the app, scan the QR code and join your Wi-Fi network.",
}
QUOTED = "kb's docs"  # a quote in the name: it must reach SQL as a literal


def test_queries_read_one_collection(conn: Conn, db_url: str, embeddings: Embeddings) -> None:
    ids = list(DOCS)
    load_documents(db_url, QUOTED, [Document(page_content=t) for t in DOCS.values()], ids,
                   embeddings)  # fmt: skip
    load_documents(db_url, "other", [Document(page_content="Unrelated.")], ["elsewhere"],
                   embeddings)  # fmt: skip
    register_vectors(conn)

    assert kb.table_exists(conn, kb.EMBEDDING_TABLE)
    assert kb.count_chunks(conn, QUOTED) == 3
    assert kb.count_chunks(conn, "absent") == 0

    found = kb.chunks_by_id(conn, QUOTED, ["setup", "warranty", "setup", "elsewhere", "nope"])
    assert sorted(row[0] for row in found) == ["setup", "warranty"]  # once each, this collection
    by_id = {row[0]: row for row in found}
    assert by_id["warranty"][1] == DOCS["warranty"]
    vector = by_id["warranty"][2]
    assert vector is not None and vector.dtype == np.float32 and vector.shape == (384,)
    assert kb.chunks_by_id(conn, QUOTED, []) == []

    hits = kb.nearest(conn, QUOTED, vector.tolist(), 2)
    assert len(hits) == 2 and hits[0][0] == "warranty"
    assert abs(hits[0][2] - 1.0) < 1e-5  # its own vector: cosine similarity 1
    assert "elsewhere" not in {h[0] for h in kb.nearest(conn, QUOTED, vector.tolist(), 10)}


def test_hnsw_index_is_created_once(conn: Conn, db_url: str, embeddings: Embeddings) -> None:
    load_documents(db_url, "kb", [Document(page_content="x")], ["x"], embeddings)
    kb.ensure_hnsw_index(conn)  # again: nothing changes
    rows = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (f"{kb.EMBEDDING_TABLE}_hnsw_idx",)
    ).fetchall()
    assert len(rows) == 1 and "hnsw" in rows[0]["indexdef"]


def test_table_exists(conn: Conn) -> None:
    assert kb.table_exists(conn, "scores")
    assert not kb.table_exists(conn, "no_such_table")
