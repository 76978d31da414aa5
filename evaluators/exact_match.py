"""Exact match: is the answer, normalised, the expected answer?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.reference_text import normalize
from evaluators.registry import register
from vigil.models import Score, Trace

SHOWN_CHARS = 200  # of each normalised text kept in metadata


@register
class ExactMatch(Evaluator):
    name = "exact_match"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "reference"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for t in traces:
            answer, reference = normalize(t.output or ""), normalize(t.reference or "")
            same = answer == reference
            out.append(
                Score.scored(
                    1.0 if same else 0.0,
                    "normalised answer equals the reference"
                    if same
                    else "normalised answer differs from the reference",
                    normalized_answer=answer[:SHOWN_CHARS],
                    normalized_reference=reference[:SHOWN_CHARS],
                )
            )
        return out
