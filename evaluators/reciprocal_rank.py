"""Reciprocal rank against a golden set: how high is the first relevant document?

The per-trace value is 1 / rank of the first relevant retrieved document (0 when none is
retrieved); its mean over traces is MRR.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.ranking import first_relevant_rank, reciprocal_rank
from evaluators.registry import register
from evaluators.retrieval_store import retrieved_ids
from vigil.models import Score, Trace


@register
class ReciprocalRank(Evaluator):
    """1 / rank of the first relevant retrieved document (mean over traces: MRR)."""

    name = "reciprocal_rank"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"document_ids", "relevant_documents"})
    k: ClassVar[int | None] = None  # None: k is the number of distinct ids the trace retrieved

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for trace in traces:
            ranked = retrieved_ids(trace)
            relevant = trace.relevant_document_ids
            k = self.k or len(ranked)
            rank = first_relevant_rank(ranked, relevant, k)
            value = reciprocal_rank(ranked, relevant, k)
            out.append(
                Score.scored(
                    value,
                    f"first relevant document at rank {rank} of {k}"
                    if rank
                    else f"no relevant document in the top {k}",
                    k=k,
                    first_relevant_rank=rank,
                    first_relevant_id=ranked[rank - 1] if rank else None,
                )
            )
        return out
