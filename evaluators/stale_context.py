"""Stale context: were the chunks a trace retrieved deleted or rewritten since?

Each retrieved chunk id is looked up in the app's vector store (one query per batch). A chunk
is *missing* when its id is gone, and *changed* when the hash of the text the trace recorded
differs from the hash of the store's current text, both after whitespace normalisation. The
value is the share of retrieved chunks still present and unchanged (1.0: none is stale). When
the trace recorded no text for a chunk, only its presence can be checked.

Ingestion may have truncated or PII-masked the recorded text (:mod:`vigil.ingest.text`); the
store's text is compared after the same treatment, so neither reads as a change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.registry import register
from evaluators.retrieval_store import chunk_lookup, recorded_texts, retrieved_ids, same_text
from vigil.models import Score, Trace


@register
class StaleContext(Evaluator):
    """Share of retrieved chunks still in the store unchanged; lists missing and changed ids."""

    name = "stale_context"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"document_ids"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        lookup = chunk_lookup(self.resources.store)
        if isinstance(lookup, str):
            return [Score.skipped(lookup)] * len(traces)
        ids = [retrieved_ids(t) for t in traces]
        current = lookup.chunks(list(dict.fromkeys(i for row in ids for i in row)))
        out = []
        for trace, retrieved in zip(traces, ids, strict=True):
            missing, changed, unrecorded = [], [], []
            for doc_id in retrieved:
                texts = recorded_texts(trace, doc_id)
                if not texts:
                    unrecorded.append(doc_id)
                if doc_id not in current:
                    missing.append(doc_id)
                elif not all(same_text(current[doc_id].content, t) for t in texts):
                    changed.append(doc_id)
            fresh = len(retrieved) - len(missing) - len(changed)
            out.append(
                Score.scored(
                    fresh / len(retrieved),
                    _explain(fresh, len(retrieved), missing, changed, unrecorded),
                    checked=len(retrieved),
                    missing=missing,
                    changed=changed,
                    content_not_recorded=unrecorded,
                )
            )
        return out


def _explain(
    fresh: int, total: int, missing: list[str], changed: list[str], unrecorded: list[str]
) -> str:
    parts = [f"{fresh} of {total} retrieved chunks are in the store unchanged"]
    if missing:
        parts.append(f"no longer in the store: {', '.join(missing)}")
    if changed:
        parts.append(f"text changed since the trace: {', '.join(changed)}")
    if unrecorded:
        parts.append(
            f"the trace recorded no text for {', '.join(unrecorded)}: only presence was checked"
        )
    return "; ".join(parts)
