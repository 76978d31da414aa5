"""ROUGE-L: F-measure of the longest common subsequence of normalised words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.reference_text import tokens
from evaluators.registry import register
from vigil.models import Score, Trace


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    if len(a) < len(b):
        a, b = b, a
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0  # row[j - 1] of the previous row
        for j, y in enumerate(b, start=1):
            above = row[j]
            row[j] = diagonal + 1 if x == y else max(row[j], row[j - 1])
            diagonal = above
    return row[-1]


@register
class RougeL(Evaluator):
    name = "rouge_l"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "reference"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for t in traces:
            answer, reference = tokens(t.output or ""), tokens(t.reference or "")
            lcs = lcs_length(answer, reference)
            if lcs == 0:
                precision = recall = f1 = float(answer == reference)  # both empty: equal
            else:
                precision, recall = lcs / len(answer), lcs / len(reference)
                f1 = 2 * precision * recall / (precision + recall)
            out.append(
                Score.scored(
                    f1,
                    f"LCS of {lcs} words: precision {precision:.3f}, recall {recall:.3f}",
                    lcs=lcs,
                    precision=precision,
                    recall=recall,
                )
            )
        return out
