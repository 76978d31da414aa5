"""BLEU: sacrebleu's sentence BLEU of the answer against the expected answer, in [0, 1].

Effective order stops at the longest n-gram the answer has, so a short correct answer is
not scored 0 for lacking 4-grams. Case is ignored; sacrebleu's own 13a tokenizer is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sacrebleu.metrics import BLEU

from evaluators.base import Evaluator, Need, Resources
from evaluators.registry import register
from vigil.models import Score, Trace


@register
class Bleu(Evaluator):
    name = "bleu"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "reference"})

    def __init__(self, resources: Resources) -> None:
        super().__init__(resources)
        self._bleu = BLEU(lowercase=True, effective_order=True)

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for t in traces:
            result = self._bleu.sentence_score(t.output or "", [t.reference or ""])
            value = min(max(result.score / 100.0, 0.0), 1.0)
            out.append(
                Score.scored(
                    value,
                    f"BLEU = {result.score:.1f} (brevity penalty {result.bp:.3f})",
                    precisions=[round(p / 100.0, 4) for p in result.precisions],
                    brevity_penalty=result.bp,
                    answer_length=result.sys_len,
                    reference_length=result.ref_len,
                )
            )
        return out
