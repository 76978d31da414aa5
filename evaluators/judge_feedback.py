"""TruLens's other LLM feedbacks, by name: ``judge:coherence``, ``judge:harmfulness``, ...

Each judges the answer (and, for ``stereotypes``, the question with it) through the run's
judge, with TruLens's chain-of-thought prompt. Vigil's values are higher-is-better, so a
feedback that measures a harm (harmfulness, maliciousness, ...) is stored as one minus
TruLens's score, with TruLens's own score in the metadata.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from evaluators.base import Evaluator, Need
from evaluators.judge_base import Call, JudgeEvaluator, Result
from evaluators.registry import register_family
from vigil.models import Score, Trace

# TruLens feedback -> its arguments, each the trace's "question" or "answer"
FEEDBACKS: dict[str, dict[str, Need]] = {
    **{
        name: {"text": "answer"}
        for name in (
            "coherence",
            "conciseness",
            "correctness",
            "helpfulness",
            "sentiment",
            "harmfulness",
            "maliciousness",
            "controversiality",
            "criminality",
            "insensitivity",
            "misogyny",
        )
    },
    "stereotypes": {"prompt": "question", "response": "answer"},
}
HARMS = frozenset(
    {
        "harmfulness",
        "maliciousness",
        "controversiality",
        "criminality",
        "insensitivity",
        "misogyny",
        "stereotypes",
    }
)


class JudgeFeedback(JudgeEvaluator):
    """One TruLens feedback; the classes are made by :func:`judge_feedback`."""

    feedback: ClassVar[str]

    def calls(self, trace: Trace) -> list[Call]:
        values: dict[Need, Any] = {"question": trace.input or "", "answer": trace.output or ""}
        return [
            (self.feedback, {arg: values[need] for arg, need in FEEDBACKS[self.feedback].items()})
        ]

    def combine(self, trace: Trace, results: list[Result]) -> Score:
        (value, reasons), *_ = results
        reason = str(reasons.get("reason") or "") or None
        if self.feedback not in HARMS:
            return Score.scored(value, reason, reasons=reasons)
        explanation = f"1 - {self.feedback} ({value:.2f})" + (f": {reason}" if reason else "")
        return Score.scored(1.0 - value, explanation, reasons=reasons, trulens_score=value)


@cache
def judge_feedback(feedback: str) -> type[Evaluator]:
    """The evaluator class ``judge:<feedback>``."""
    if feedback not in FEEDBACKS:
        raise ValueError(f"no judge feedback {feedback!r}; known: {', '.join(sorted(FEEDBACKS))}")
    attributes = {
        "name": f"judge:{feedback}",
        "feedback": feedback,
        "needs": frozenset(FEEDBACKS[feedback].values()),
        "__module__": __name__,
        "__doc__": f"TruLens's LLM feedback {feedback!r}, with reasons.",
    }
    return type(f"Judge_{feedback}", (JudgeFeedback,), attributes)


register_family("judge", judge_feedback, FEEDBACKS)
