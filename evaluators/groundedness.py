"""Groundedness (RAG triad): is every sentence of the answer supported by the context?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.providers.minilm import MiniLMProvider
from evaluators.registry import register
from evaluators.text import sentences
from vigil.models import Score, Trace


@register
class Groundedness(Evaluator):
    name = "groundedness"
    version = "minilm-1"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "contexts"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        provider = self.resources.provider
        assert isinstance(provider, MiniLMProvider)
        texts: list[str] = []
        for t in traces:
            texts += sentences(t.output or "") + [s for c in t.contexts for s in sentences(c)]
        provider.warm(texts)
        out = []
        for t in traces:
            value, reasons = provider.groundedness_measure_with_cot_reasons(
                t.contexts, t.output or ""
            )
            out.append(Score.scored(value, reasons["reason"], sentences=reasons["sentences"]))
        return out
