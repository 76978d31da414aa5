"""What retrieval checks need from the app's vector store beyond ``search``.

:class:`evaluators.base.VectorStore` only searches. Checks that compare a trace with the
store's current rows also look chunks up by id (:class:`ChunkLookup`);
:class:`vigil.knowledge_base.PGVectorStore` does so in one query, returning each chunk's text
and the embedding the app stored, so that no chunk is embedded again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from vigil.ingest.text import TRUNCATION_MARK, clean, redact
from vigil.knowledge_base import StoredChunk
from vigil.models import Trace

NO_STORE = "no vector store configured (VIGIL_KB_COLLECTION)"

_before, _after = TRUNCATION_MARK.split("{n}")
_TRUNCATED = re.compile(re.escape(_before) + r"(\d+)" + re.escape(_after) + r"\Z")

__all__ = [
    "NO_STORE",
    "ChunkLookup",
    "StoredChunk",
    "chunk_lookup",
    "content_hash",
    "normalise",
    "recorded_texts",
    "retrieved_ids",
    "same_text",
]


@runtime_checkable
class ChunkLookup(Protocol):
    """A store that returns its current rows by id; ids it does not hold are left out."""

    def chunks(self, ids: Sequence[str]) -> Mapping[str, StoredChunk]: ...


def chunk_lookup(store: object) -> ChunkLookup | str:
    """The store as a :class:`ChunkLookup`, or the reason a check must be skipped."""
    if store is None:
        return NO_STORE
    if not isinstance(store, ChunkLookup):
        return (
            f"the vector store ({type(store).__name__}) cannot look chunks up by id:"
            " it needs a chunks(ids) method like vigil.knowledge_base.PGVectorStore"
        )
    return store


def retrieved_ids(trace: Trace) -> list[str]:
    """The trace's retrieved chunk ids in rank order, each once, at its first (best) rank.

    Chunks of several retriever spans that share a rank keep their recorded order.
    """
    ordered = sorted(trace.retrievals, key=lambda c: c.rank or 0)
    return list(dict.fromkeys(c.document_id for c in ordered if c.document_id))


def recorded_texts(trace: Trace, document_id: str) -> list[str]:
    """The non-blank texts the trace recorded for one chunk id (usually one)."""
    texts = (c.content for c in trace.retrievals if c.document_id == document_id)
    return list(dict.fromkeys(t for t in texts if t.strip()))


def normalise(text: str) -> str:
    """Whitespace-insensitive form: runs of whitespace become one space, ends are stripped."""
    return " ".join(text.split())


def content_hash(text: str) -> str:
    """SHA-256 of the normalised text."""
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def same_text(current: str, recorded: str) -> bool:
    """Whether the store's current text is the text the trace recorded.

    Hashes are compared after whitespace normalisation, with the store's text also taken
    through what ingestion may have done to the recorded one (:mod:`vigil.ingest.text`): PII
    masking, and truncation where the recorded text carries the truncation mark.
    """
    forms = {current, redact(current)}
    truncated = _TRUNCATED.search(recorded)
    if truncated:
        forms = {clean(form, truncated.start()) for form in forms}
    return content_hash(recorded) in {content_hash(form) for form in forms}
