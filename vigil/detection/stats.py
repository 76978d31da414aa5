"""The statistical tests, all from scipy: one comparison of a window with its baseline, the
Benjamini-Hochberg q-values of a pass, and the quantiles kept as evidence."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from vigil.detection.metrics import Metric

EVIDENCE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class Comparison:
    """One test's result. ``effect`` is positive when the window is worse, in the metric's
    unit (relative metrics: window / baseline - 1)."""

    p: float
    window_stat: float  # mean, rate or quantile, as the metric's kind says
    baseline_stat: float
    effect: float
    window_n: int
    baseline_n: int


def compare(metric: Metric, window: np.ndarray, baseline: np.ndarray) -> Comparison:
    """Test whether ``window`` is worse than ``baseline`` in the metric's bad direction."""
    if metric.kind == "quantile":
        # Mood's test for a quantile: how many of each side lie above the pooled quantile,
        # compared with Fisher's exact test. Unlike a one-sample test against the baseline's
        # quantile, it accounts for that quantile's own noise in a short baseline.
        w_stat = float(np.quantile(window, metric.quantile))
        b_stat = float(np.quantile(baseline, metric.quantile))
        pooled = np.quantile(np.concatenate([window, baseline]), metric.quantile)
        w_hits, b_hits = int((window > pooled).sum()), int((baseline > pooled).sum())
        table = [[w_hits, len(window) - w_hits], [b_hits, len(baseline) - b_hits]]
        side = "greater" if metric.bad == "up" else "less"
        p = stats.fisher_exact(table, alternative=side).pvalue
    elif metric.kind == "rate":
        w_hits, b_hits = int(window.sum()), int(baseline.sum())
        table = [[w_hits, len(window) - w_hits], [b_hits, len(baseline) - b_hits]]
        side = "greater" if metric.bad == "up" else "less"
        p = stats.fisher_exact(table, alternative=side).pvalue
        w_stat, b_stat = w_hits / len(window), b_hits / len(baseline)
    else:
        side = "less" if metric.bad == "down" else "greater"
        p = stats.mannwhitneyu(window, baseline, alternative=side).pvalue
        w_stat, b_stat = float(window.mean()), float(baseline.mean())
    p = 1.0 if math.isnan(p) else float(p)
    return Comparison(p, w_stat, b_stat, effect(metric, w_stat, b_stat), len(window), len(baseline))


def effect(metric: Metric, window_stat: float, baseline_stat: float) -> float:
    """How much worse the window is, positive when worse."""
    sign = 1.0 if metric.bad == "up" else -1.0
    if not metric.relative:
        return sign * (window_stat - baseline_stat)
    if baseline_stat == 0:
        return math.inf if sign * window_stat > 0 else 0.0
    return sign * (window_stat / baseline_stat - 1.0)


def q_values(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values of every test in a pass."""
    if not p_values:
        return []
    return [float(q) for q in stats.false_discovery_control(p_values, method="bh")]


def quantiles(values: np.ndarray) -> dict[str, float]:
    """The distribution kept as evidence: p5, p25, p50, p75, p95."""
    if len(values) == 0:
        return {}
    qs = np.quantile(values, EVIDENCE_QUANTILES)
    return {f"p{round(q * 100)}": float(v) for q, v in zip(EVIDENCE_QUANTILES, qs, strict=True)}
