"""Context relevance by an LLM judge: each retrieved chunk graded against the question
(TruLens ``context_relevance_with_cot_reasons``); the score is the mean over chunks, and
each chunk's grade is kept in the metadata."""

from __future__ import annotations

from statistics import fmean
from typing import ClassVar

from evaluators.base import Need
from evaluators.judge_base import Call, JudgeEvaluator, Result
from evaluators.registry import register
from vigil.models import Retrieval, Score, Trace


def _chunks(trace: Trace) -> list[Retrieval]:
    ranked = sorted(trace.retrievals, key=lambda c: c.rank or 0)
    return [c for c in ranked if c.content.strip()]


@register
class JudgeContextRelevance(JudgeEvaluator):
    name = "judge_context_relevance"
    needs: ClassVar[frozenset[Need]] = frozenset({"question", "contexts"})

    def calls(self, trace: Trace) -> list[Call]:
        question = trace.input or ""
        return [
            ("context_relevance", {"question": question, "context": c.content})
            for c in _chunks(trace)
        ]

    def combine(self, trace: Trace, results: list[Result]) -> Score:
        chunks = _chunks(trace)
        values = [value for value, _ in results]
        per_chunk = [
            {
                "rank": c.rank,
                "document_id": c.document_id,
                "score": value,
                "reason": r.get("reason"),
            }
            for c, (value, r) in zip(chunks, results, strict=True)
        ]
        best = values.index(max(values))
        reason = (
            f"{len(values)} chunk(s); the best, rank {chunks[best].rank}, scores {max(values):.2f}"
        )
        return Score.scored(fmean(values), reason, chunks=per_chunk)
