"""Token F1 (SQuAD): word overlap of the normalised answer and the expected answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.reference_text import tokens
from evaluators.registry import register
from vigil.models import Score, Trace


def token_f1(answer: list[str], reference: list[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of the shared words (counted with multiplicity).

    As in SQuAD, when either side has no words the result is 1 if both are empty, else 0.
    """
    if not answer or not reference:
        same = float(answer == reference)
        return same, same, same
    common = sum((Counter(answer) & Counter(reference)).values())
    if common == 0:
        return 0.0, 0.0, 0.0
    precision, recall = common / len(answer), common / len(reference)
    return precision, recall, 2 * precision * recall / (precision + recall)


@register
class TokenF1(Evaluator):
    name = "token_f1"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "reference"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for t in traces:
            precision, recall, f1 = token_f1(tokens(t.output or ""), tokens(t.reference or ""))
            out.append(
                Score.scored(
                    f1,
                    f"token F1 = {f1:.3f} (precision {precision:.3f}, recall {recall:.3f})",
                    precision=precision,
                    recall=recall,
                )
            )
        return out
