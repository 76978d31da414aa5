"""nDCG@k against a golden set: are the relevant documents ranked first?"""

from __future__ import annotations

from evaluators.golden_set import GoldenSetEvaluator
from evaluators.ranking import ndcg_at_k
from evaluators.registry import register
from vigil.models import Score


@register
class NDCGAtK(GoldenSetEvaluator):
    """nDCG@k with binary relevance: 1 when the relevant documents fill the top ranks."""

    name = "ndcg_at_k"
    version = "1"

    def judge(self, ranked: list[str], relevant: set[str], k: int) -> Score:
        value = ndcg_at_k(ranked, relevant, k)
        ranks = [r for r, d in enumerate(ranked[:k], start=1) if d in relevant]
        return Score.scored(
            value,
            f"nDCG@{k} = {value:.2f}; relevant documents at ranks "
            + (", ".join(map(str, ranks)) if ranks else "none"),
            k=k,
            relevant_ranks=ranks,
        )
