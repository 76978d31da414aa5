"""Re-retrieval agreement: does the store today return what the app retrieved then?

The trace's question is embedded with the app's model and searched in the current pgvector
store; the score is overlap@k between those ids and the ids retrieved at the time. A drop
means the index drifted: documents were re-chunked, re-embedded, deleted or outranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.providers.minilm import MiniLMProvider
from evaluators.registry import register
from vigil.models import Score, Trace


@register
class RetrievalAgreement(Evaluator):
    name = "retrieval_agreement"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"question", "document_ids"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        store = self.resources.store
        if store is None:
            return [Score.skipped("no vector store configured (VIGIL_KB_COLLECTION)")] * len(traces)
        provider = self.resources.provider
        assert isinstance(provider, MiniLMProvider)
        vectors = provider.embed([t.input or "" for t in traces])
        out = []
        for trace, vector in zip(traces, vectors, strict=True):
            then = [c.document_id for c in trace.retrievals if c.document_id]
            k = len(then)
            now = [str(getattr(hit, "document_id", hit)) for hit in store.search(vector, k)]
            if not now:
                out.append(Score.skipped("the store returned nothing for this question"))
                continue
            overlap = len(set(then) & set(now)) / k
            missing = sorted(set(then) - set(now))
            out.append(
                Score.scored(
                    overlap,
                    f"overlap@{k} = {overlap:.2f}"
                    + (f"; no longer retrieved: {', '.join(missing)}" if missing else ""),
                    k=k,
                    retrieved_then=then,
                    retrieved_now=now,
                )
            )
        return out
