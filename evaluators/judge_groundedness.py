"""Groundedness by an LLM judge: each sentence of the answer graded against the contexts
(TruLens ``groundedness_measure_with_cot_reasons``); the score is their mean."""

from __future__ import annotations

from typing import Any, ClassVar

from evaluators.base import Need
from evaluators.judge_base import Call, JudgeEvaluator, Result
from evaluators.registry import register
from vigil.models import Score, Trace


@register
class JudgeGroundedness(JudgeEvaluator):
    name = "judge_groundedness"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "contexts"})

    def calls(self, trace: Trace) -> list[Call]:
        source = "\n\n".join(c for c in trace.contexts if c.strip())
        return [("groundedness", {"source": source, "statement": trace.output or ""})]

    def combine(self, trace: Trace, results: list[Result]) -> Score:
        (value, reasons), *_ = results
        statements: list[dict[str, Any]] = [
            {
                "sentence": r.get("criteria"),
                "score": r.get("score"),
                "evidence": r.get("supporting_evidence"),
            }
            for r in reasons.get("reasons", [])
        ]
        if not statements:
            return Score.scored(value, None, sentences=[])
        worst = min(statements, key=lambda s: s["score"])
        reason = f"weakest sentence ({worst['score']:.2f}): {worst['sentence']!r}"
        return Score.scored(value, reason, sentences=statements)
