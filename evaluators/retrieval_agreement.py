"""Re-retrieval agreement: does the store today return what the app retrieved then?

The trace's question is embedded with the app's model and searched in the current pgvector
store; the score is overlap@k between those ids and the k distinct ids retrieved at the time.
A drop means the index drifted: documents were re-chunked, re-embedded, deleted or outranked.
``stale_context`` tells which of these happened to the chunks themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.providers.minilm import MiniLMProvider
from evaluators.registry import register
from evaluators.retrieval_store import NO_STORE, retrieved_ids
from vigil.models import Score, Trace


@register
class RetrievalAgreement(Evaluator):
    """Overlap@k of today's top-k search for the question with the ids retrieved then."""

    name = "retrieval_agreement"
    version = "2"  # 2: k counts distinct ids; metadata names the ids that left and arrived
    needs: ClassVar[frozenset[Need]] = frozenset({"question", "document_ids"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        store = self.resources.store
        if store is None:
            return [Score.skipped(NO_STORE)] * len(traces)
        provider = self.resources.provider
        assert isinstance(provider, MiniLMProvider)
        vectors = provider.embed([t.input or "" for t in traces])
        out = []
        for trace, vector in zip(traces, vectors, strict=True):
            then = retrieved_ids(trace)
            k = len(then)
            now = [str(getattr(hit, "document_id", hit)) for hit in store.search(vector, k)]
            if not now:
                out.append(Score.skipped("the store returned nothing for this question"))
                continue
            overlap = len(set(then) & set(now)) / k
            left = [d for d in then if d not in now]
            arrived = [d for d in now if d not in then]
            out.append(
                Score.scored(
                    overlap,
                    f"overlap@{k} = {overlap:.2f}"
                    + (f"; no longer retrieved: {', '.join(left)}" if left else ""),
                    k=k,
                    retrieved_then=then,
                    retrieved_now=now,
                    no_longer_retrieved=left,
                    newly_retrieved=arrived,
                )
            )
        return out
