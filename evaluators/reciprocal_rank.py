"""Reciprocal rank against a golden set: how high is the first relevant document?

The per-trace value is 1 / rank of the first relevant retrieved document (0 when none is
retrieved); its mean over traces is MRR.
"""

from __future__ import annotations

from evaluators.golden_set import GoldenSetEvaluator
from evaluators.ranking import first_relevant_rank, reciprocal_rank
from evaluators.registry import register
from vigil.models import Score


@register
class ReciprocalRank(GoldenSetEvaluator):
    """1 / rank of the first relevant retrieved document (mean over traces: MRR)."""

    name = "reciprocal_rank"
    version = "1"

    def judge(self, ranked: list[str], relevant: set[str], k: int) -> Score:
        rank = first_relevant_rank(ranked, relevant, k)
        return Score.scored(
            reciprocal_rank(ranked, relevant, k),
            f"first relevant document at rank {rank} of {k}"
            if rank
            else f"no relevant document in the top {k}",
            k=k,
            first_relevant_rank=rank,
            first_relevant_id=ranked[rank - 1] if rank else None,
        )
