"""Wiring: the evaluator resources a worker process builds once and reuses."""

from __future__ import annotations

from functools import lru_cache

from evaluators import Resources
from evaluators.providers import MiniLMProvider
from vigil.db.types import Conn
from vigil.embeddings import load_embeddings
from vigil.knowledge_base import PGVectorStore
from vigil.settings import Settings


@lru_cache(maxsize=2)
def local_provider(model_path: str | None) -> MiniLMProvider:
    """One provider per process and model: it holds the model and its embedding cache."""
    return MiniLMProvider(load_embeddings(model_path))


def build_resources(settings: Settings, conn: Conn) -> Resources:
    store = PGVectorStore(
        conn,
        settings.kb_collection,
        embedding_table=settings.kb_embedding_table,
        collection_table=settings.kb_collection_table,
    )
    has_store = _table_exists(conn, settings.kb_embedding_table) and store.count() > 0
    return Resources(
        provider=local_provider(settings.embedding_model),
        store=store if has_store else None,
    )


def _table_exists(conn: Conn, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (table,)).fetchone()
    return bool(row and row["found"])
