"""Semantic similarity: cosine of the answer's and the expected answer's MiniLM embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from evaluators.base import Evaluator, Need
from evaluators.providers.minilm import MiniLMProvider
from evaluators.registry import register
from vigil.models import Score, Trace


@register
class SemanticSimilarity(Evaluator):
    name = "semantic_similarity"
    version = "minilm-1"  # scores change with the embedding model
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "reference"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        provider = self.resources.provider
        assert isinstance(provider, MiniLMProvider)
        answers = [t.output or "" for t in traces]
        references = [t.reference or "" for t in traces]
        provider.warm(answers + references)  # one embedding batch for the whole batch
        out = []
        for answer, reference in zip(answers, references, strict=True):
            a, r = provider.embed([answer, reference])
            cosine = float(a @ r)
            value = float(np.clip(cosine, 0.0, 1.0))
            out.append(
                Score.scored(
                    value, f"cosine(answer, reference) = {cosine:.3f}", cosine=round(cosine, 4)
                )
            )
        return out
