"""Groundedness (RAG triad): is every sentence of the answer supported by the context?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.providers.minilm import MiniLMProvider
from evaluators.registry import register
from vigil.models import Score, Trace


@register
class Groundedness(Evaluator):
    name = "groundedness"
    version = "minilm-2"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "contexts"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        provider = self.resources.provider
        assert isinstance(provider, MiniLMProvider)
        words = [w for t in traces for w in provider.groundedness_words(t.contexts, t.output or "")]
        provider.warm(words)
        out = []
        for t in traces:
            value, reasons = provider.groundedness_measure_with_cot_reasons(
                t.contexts, t.output or ""
            )
            if math.isnan(value):
                out.append(Score.skipped(reasons["reason"]))
            else:
                out.append(Score.scored(value, reasons["reason"], sentences=reasons["sentences"]))
        return out
