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
    interval: tuple[float, float] | None = None  # a 95% interval of ``vigil``, if measured
    reference_interval: tuple[float, float] | None = None

    @property
    def ratio(self) -> float:
        return self.vigil / self.reference if self.reference else float("nan")


def _number(value: float) -> str:
    """Scores and rates in [0, 10) get three decimals; counts and throughputs one."""
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _with_interval(value: float, interval: tuple[float, float] | None) -> str:
    if interval is None:
        return _number(value)
    return f"{_number(value)} [{_number(interval[0])}, {_number(interval[1])}]"


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
            _with_interval(r.vigil, r.interval),
            r.reference_name,
            _with_interval(r.reference, r.reference_interval),
            _ratio(r),
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(out)
