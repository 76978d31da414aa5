"""Cost: what the request cost in USD, as reported or as priced at ingestion.

Ingestion (:func:`vigil.ingest.enrich.enrich`) prices traces from the price table; this
evaluator opens no database connection, so a trace without a cost is skipped with the reason
it could not be priced and the command that fixes it for traces ingested afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.registry import register
from vigil.models import Score, Trace


def _why_unpriced(trace: Trace) -> str:
    if not trace.model:
        return "trace has no cost and names no model to price"
    if trace.tokens_in is None and trace.tokens_out is None:
        return "trace has no cost and no token counts to price"
    return (
        f"no price for model {trace.model!r}: add one with `vigil prices set {trace.model}"
        " --input USD_PER_MTOK --output USD_PER_MTOK` (traces ingested after that are costed)"
    )


@register
class Cost(Evaluator):
    name = "cost_usd"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset()  # a missing cost is explained in score()

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for t in traces:
            if t.cost_usd is None:
                out.append(Score.skipped(_why_unpriced(t)))
                continue
            flags = t.attributes.get("vigil")
            priced_as = flags.get("priced_as") if isinstance(flags, dict) else None
            how = f" (priced as {priced_as})" if priced_as else " (reported)"
            out.append(
                Score.measured(
                    t.cost_usd,
                    "USD",
                    f"${t.cost_usd:.6f}{how}",
                    model=t.model,
                    priced_as=priced_as,
                )
            )
        return out
