"""Latency: how long the request took, in milliseconds (reported, or end minus start)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.registry import register
from vigil.models import Score, Trace


@register
class Latency(Evaluator):
    name = "latency_ms"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"latency"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for t in traces:
            assert t.latency_ms is not None  # ``needs`` checked it
            out.append(Score.measured(t.latency_ms, "ms", f"{t.latency_ms:.0f} ms"))
        return out
