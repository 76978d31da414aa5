"""Benchmarks. `make bench` runs each module named in ``bench.__main__.BENCHMARKS``.

A benchmark returns rows; every row sets Vigil's number beside a reference (a peer tool or
the hardware bound) measured in the same run on the same machine, and the ratio between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    benchmark: str
    case: str
    metric: str
    vigil: float
    reference_name: str
    reference: float
    higher_is_better: bool = True

    @property
    def ratio(self) -> float:
        return self.vigil / self.reference if self.reference else float("nan")


def _number(value: float) -> str:
    """Scores and rates in [0, 10) get three decimals; counts and throughputs one."""
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _ratio(row: Row) -> str:
    """vigil/reference; for counts where lower is better (losses) a ratio of zeros means
    nothing, so the column then says whether Vigil did at least as well."""
    if math.isnan(row.reference):
        return "n/a"
    if not row.higher_is_better:
        return "ok" if row.vigil <= row.reference else "worse"
    return f"{row.ratio:.2f}x"


def table(rows: list[Row]) -> str:
    header = ("benchmark", "case", "metric", "vigil", "reference", "ref value", "vigil/ref")
    body = [
        (
            r.benchmark,
            r.case,
            r.metric,
            _number(r.vigil),
            r.reference_name,
            _number(r.reference),
            _ratio(r),
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(out)
