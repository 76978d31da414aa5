"""Canary comparison: two live segments over the same window, metric by metric.

The canary (``prompt_version=v4``) is tested against the control (``prompt_version=v3``)
with the detector's own tests, both ways: worse when the canary is worse than the control
(Benjamini-Hochberg over the metrics at ``Limits.fdr``, effect at least the metric's
floor), better when the control is worse than the canary, else no detectable difference.
Each verdict carries the effect, a bootstrap interval for it (scipy), and the traces per
side a test at that level would need to detect the metric's floor with 80% power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sp

from vigil.detection import stats
from vigil.detection.data import AppWindow, series
from vigil.detection.metrics import Limits, Metric

Verdict = Literal["worse", "better", "no detectable difference"]
POWER = 0.8
CONFIDENCE = 0.95
RESAMPLES = 999


@dataclass(frozen=True)
class MetricVerdict:
    metric: str
    evaluator: str
    version: str
    verdict: Verdict
    canary: float  # the metric's statistic (mean, rate or quantile) on the canary
    control: float
    effect: float  # worse is positive, as the detector reports it
    interval: tuple[float, float]  # bootstrap interval of canary - control (relative: ratio - 1)
    p_worse: float
    q_worse: float
    n_canary: int
    n_control: int
    n_needed: int | None  # per side, to detect the floor; None when it cannot be told

    @property
    def name(self) -> str:
        return self.metric + (f":{self.evaluator}" if self.evaluator else "")


def compare_segments(
    aw: AppWindow,
    canary: dict[str, str],
    control: dict[str, str],
    limits: Limits,
    seed: int = 0,
) -> list[MetricVerdict]:
    """Every metric that both segments have at least ``limits.min_window_n`` traces of."""
    a, b = _mask(aw, canary), _mask(aw, control)
    tests = []
    for s in series(aw, limits):
        x, y = s.values[a[s.idx]], s.values[b[s.idx]]
        if len(x) < limits.min_window_n or len(y) < limits.min_window_n:
            continue
        worse, better = stats.compare(s.metric, x, y), stats.compare(s.metric, y, x)
        tests.append((s, x, y, worse, better))
    q_worse = stats.q_values([t[3].p for t in tests])
    q_better = stats.q_values([t[4].p for t in tests])
    out = []
    for (s, x, y, worse, better), qw, qb in zip(tests, q_worse, q_better, strict=True):
        floor = limits.floor(s.metric)
        verdict: Verdict = "no detectable difference"
        if qw <= limits.fdr and worse.effect >= floor:
            verdict = "worse"
        elif qb <= limits.fdr and better.effect >= floor:
            verdict = "better"
        out.append(MetricVerdict(
            metric=s.metric.name, evaluator=s.evaluator, version=s.version, verdict=verdict,
            canary=worse.window_stat, control=worse.baseline_stat, effect=worse.effect,
            interval=interval(s.metric, x, y, seed), p_worse=worse.p, q_worse=qw,
            n_canary=len(x), n_control=len(y), n_needed=needed(s.metric, y, floor, limits.fdr),
        ))  # fmt: skip
    return out


def interval(metric: Metric, x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of the canary's statistic against the control's: the difference,
    or for relative metrics the ratio minus one."""

    def statistic(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        if metric.kind == "quantile":
            sa = np.quantile(a, metric.quantile, axis=axis)
            sb = np.quantile(b, metric.quantile, axis=axis)
        else:
            sa, sb = np.mean(a, axis=axis), np.mean(b, axis=axis)
        if metric.relative:
            return np.divide(sa, sb, out=np.full_like(np.asarray(sa, dtype=float), np.nan),
                             where=np.asarray(sb) != 0) - 1.0  # fmt: skip
        return np.asarray(sa - sb)

    result = sp.bootstrap(
        (x, y), statistic, n_resamples=RESAMPLES, confidence_level=CONFIDENCE,
        method="percentile", vectorized=True, rng=np.random.default_rng(seed),
    )  # fmt: skip
    low, high = result.confidence_interval
    return float(low), float(high)


def needed(metric: Metric, control: np.ndarray, floor: float, alpha: float) -> int | None:
    """Traces per side for a one-sided test at ``alpha`` to detect the floor with 80%
    power (normal approximation on the control's spread)."""
    z = sp.norm.ppf(1 - alpha) + sp.norm.ppf(POWER)
    if metric.kind == "rate":
        p1 = float(control.mean())
        p2 = min(max(p1 + (floor if metric.bad == "up" else -floor), 0.0), 1.0)
        spread = p1 * (1 - p1) + p2 * (1 - p2)
        delta = abs(p2 - p1)
    elif metric.kind == "quantile":  # as the share of traces beyond the control's quantile
        p1 = 1.0 - metric.quantile
        beyond = float(np.quantile(control, metric.quantile)) / (1.0 + floor)
        p2 = float((control > beyond).mean())
        spread, delta = p1 * (1 - p1) + p2 * (1 - p2), abs(p2 - p1)
    else:
        mean = float(control.mean())
        delta = floor * abs(mean) if metric.relative else floor
        spread = 2 * float(control.var(ddof=1))
    if delta <= 0 or not math.isfinite(spread):
        return None
    return max(2, math.ceil(z * z * spread / (delta * delta)))


def _mask(aw: AppWindow, segment: dict[str, str]) -> np.ndarray:
    mask = aw.in_window.copy()
    for key, value in segment.items():
        column = aw.dims.get(key)
        if column is None:
            return np.zeros(len(aw), dtype=bool)
        mask &= column == value
    return mask
