"""What the golden-set ranking evaluators share: the trace's retrieved ids in rank order,
the ids the golden set labels relevant, and k."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.retrieval_store import retrieved_ids
from vigil.models import Score, Trace


class GoldenSetEvaluator(Evaluator):
    needs: ClassVar[frozenset[Need]] = frozenset({"document_ids", "relevant_documents"})
    k: ClassVar[int | None] = None  # None: k is the number of distinct ids the trace retrieved

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for trace in traces:
            ranked = retrieved_ids(trace)
            out.append(self.judge(ranked, set(trace.relevant_document_ids), self.k or len(ranked)))
        return out

    @abstractmethod
    def judge(self, ranked: list[str], relevant: set[str], k: int) -> Score:
        """One trace's score from its ranked ids and the relevant ones."""
