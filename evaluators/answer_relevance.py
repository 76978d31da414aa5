"""Answer relevance (RAG triad): does the answer address the question?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.providers.minilm import MiniLMProvider
from evaluators.registry import register
from vigil.models import Score, Trace


@register
class AnswerRelevance(Evaluator):
    name = "answer_relevance"
    version = "minilm-1"
    needs: ClassVar[frozenset[Need]] = frozenset({"question", "answer"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        provider = self.resources.provider
        assert isinstance(provider, MiniLMProvider)
        provider.warm([t.input or "" for t in traces] + [t.output or "" for t in traces])
        out = []
        for t in traces:
            value = provider.relevance(t.input or "", t.output or "")
            out.append(Score.scored(value, f"cosine(question, answer) = {value:.3f}"))
        return out
