"""Answer relevance by an LLM judge (TruLens ``relevance_with_cot_reasons``)."""

from __future__ import annotations

from typing import ClassVar

from evaluators.base import Need
from evaluators.judge_base import Call, JudgeEvaluator
from evaluators.registry import register
from vigil.models import Trace


@register
class JudgeAnswerRelevance(JudgeEvaluator):
    name = "judge_answer_relevance"
    needs: ClassVar[frozenset[Need]] = frozenset({"question", "answer"})

    def calls(self, trace: Trace) -> list[Call]:
        return [("relevance", {"prompt": trace.input or "", "response": trace.output or ""})]
