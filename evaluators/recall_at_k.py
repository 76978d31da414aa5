"""Recall@k against a golden set: how many of the relevant documents did retrieval find?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.ranking import recall_at_k
from evaluators.registry import register
from evaluators.retrieval_store import retrieved_ids
from vigil.models import Score, Trace


@register
class RecallAtK(Evaluator):
    """Share of the golden set's relevant documents among the top k retrieved chunks."""

    name = "recall_at_k"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"document_ids", "relevant_documents"})
    k: ClassVar[int | None] = None  # None: k is the number of distinct ids the trace retrieved

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for trace in traces:
            ranked = retrieved_ids(trace)
            relevant = set(trace.relevant_document_ids)
            k = self.k or len(ranked)
            value = recall_at_k(ranked, relevant, k)
            found = [d for d in ranked[:k] if d in relevant]
            missed = sorted(relevant - set(found))
            out.append(
                Score.scored(
                    value,
                    f"recall@{k} = {value:.2f}: {len(found)} of {len(relevant)} relevant"
                    " documents retrieved" + (f"; missed: {', '.join(missed)}" if missed else ""),
                    k=k,
                    found=found,
                    missed=missed,
                )
            )
        return out
