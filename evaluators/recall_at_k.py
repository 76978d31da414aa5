"""Recall@k against a golden set: how many of the relevant documents did retrieval find?"""

from __future__ import annotations

from evaluators.golden_set import GoldenSetEvaluator
from evaluators.ranking import recall_at_k
from evaluators.registry import register
from vigil.models import Score


@register
class RecallAtK(GoldenSetEvaluator):
    """Share of the golden set's relevant documents among the top k retrieved chunks."""

    name = "recall_at_k"
    version = "1"

    def judge(self, ranked: list[str], relevant: set[str], k: int) -> Score:
        value = recall_at_k(ranked, relevant, k)
        found = [d for d in ranked[:k] if d in relevant]
        missed = sorted(relevant - set(found))
        return Score.scored(
            value,
            f"recall@{k} = {value:.2f}: {len(found)} of {len(relevant)} relevant"
            " documents retrieved" + (f"; missed: {', '.join(missed)}" if missed else ""),
            k=k,
            found=found,
            missed=missed,
        )
