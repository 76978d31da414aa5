"""nDCG@k against a golden set: are the relevant documents ranked first?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.ranking import ndcg_at_k
from evaluators.registry import register
from evaluators.retrieval_store import retrieved_ids
from vigil.models import Score, Trace


@register
class NDCGAtK(Evaluator):
    """nDCG@k with binary relevance: 1 when the relevant documents fill the top ranks."""

    name = "ndcg_at_k"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"document_ids", "relevant_documents"})
    k: ClassVar[int | None] = None  # None: k is the number of distinct ids the trace retrieved

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for trace in traces:
            ranked = retrieved_ids(trace)
            relevant = set(trace.relevant_document_ids)
            k = self.k or len(ranked)
            value = ndcg_at_k(ranked, relevant, k)
            ranks = [r for r, d in enumerate(ranked[:k], start=1) if d in relevant]
            out.append(
                Score.scored(
                    value,
                    f"nDCG@{k} = {value:.2f}; relevant documents at ranks "
                    + (", ".join(map(str, ranks)) if ranks else "none"),
                    k=k,
                    relevant_ranks=ranks,
                )
            )
        return out
