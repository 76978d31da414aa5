"""The gate's statistics, pure: a paired bootstrap for score drops, McNemar's exact test
for pass/fail regressions, the unbiased pass@k estimator and the majority of re-judgements.

Paired because the candidate and the baseline answer the same items: the item-to-item
spread (easy and hard questions) cancels out, and only the change is measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """The mean of paired differences (candidate - baseline) and its confidence interval."""

    mean_diff: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class McNemar:
    """Discordant pairs and exact p values.

    ``b``: the baseline passed and the candidate failed; ``c``: the reverse. Concordant
    pairs say nothing about which is better, so only ``b`` and ``c`` are tested.
    """

    b: int
    c: int
    p_worse: float  # one-sided: the candidate fails more items than the baseline
    p_two_sided: float


def paired_bootstrap(
    candidate: Sequence[float],
    baseline: Sequence[float],
    *,
    confidence: float,
    resamples: int,
    seed: int,
) -> Interval:
    """Percentile bootstrap interval of ``mean(candidate - baseline)``, resampling items.

    The percentile method rather than BCa: BCa fails or warns on degenerate samples (equal
    differences, scores that are all 0 or 1), which golden datasets produce routinely. When
    every difference is the same (one pair included) there is nothing to resample and the
    interval is ``[d, d]``; callers that need a spread check ``n`` (rules want n >= 2).
    """
    cand = np.asarray(candidate, dtype=float)
    base = np.asarray(baseline, dtype=float)
    if cand.shape != base.shape or cand.ndim != 1:
        raise ValueError(f"paired samples differ in length: {cand.shape} and {base.shape}")
    if cand.size == 0:
        raise ValueError("no pairs to compare")
    if not (np.isfinite(cand).all() and np.isfinite(base).all()):
        raise ValueError("scores must be finite numbers")
    diffs = cand - base
    mean = float(diffs.mean())
    if np.ptp(diffs) <= 1e-12:  # equal up to rounding: 0.1 - 0.3 and 0.4 - 0.6 differ
        return Interval(mean_diff=mean, low=mean, high=mean, n=int(diffs.size))
    result = stats.bootstrap(
        (cand, base),
        _mean_diff,
        paired=True,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Interval(mean_diff=mean, low=float(low), high=float(high), n=int(diffs.size))


def _mean_diff(cand: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(cand - base, axis=axis)


def mcnemar(candidate_pass: Sequence[bool], baseline_pass: Sequence[bool]) -> McNemar:
    """McNemar's exact test: under "no change", a discordant pair is a fair coin, so ``b``
    of ``b + c`` follows Binomial(b + c, 1/2) (scipy.stats.binomtest)."""
    if len(candidate_pass) != len(baseline_pass):
        raise ValueError(
            f"paired verdicts differ in length: {len(candidate_pass)} and {len(baseline_pass)}"
        )
    pairs = list(zip(candidate_pass, baseline_pass, strict=True))
    b = sum(1 for cand, base in pairs if base and not cand)
    c = sum(1 for cand, base in pairs if cand and not base)
    if b + c == 0:
        return McNemar(b=0, c=0, p_worse=1.0, p_two_sided=1.0)
    worse = stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue
    two_sided = stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    return McNemar(b=b, c=c, p_worse=float(worse), p_two_sided=float(min(1.0, two_sided)))


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate from ``n`` samples of which ``c`` pass (Chen et al.
    2021, "Evaluating Large Language Models Trained on Code"): ``1 - C(n-c, k) / C(n, k)``,
    computed as a product so large ``n`` neither overflows nor loses precision."""
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"pass@k needs n >= 1 samples and 0 <= c <= n passing (n={n}, c={c})")
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n, the samples per item (n={n})")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def majority(verdicts: Sequence[bool]) -> tuple[bool, bool]:
    """The majority verdict of repeated judgements, and whether they disagreed (flaky).

    A tie counts as a pass: when the judge cannot make up its mind the item is not evidence
    of a regression, and it is marked flaky either way (a flaky item alone never fails
    the gate). An odd number of judgements (1 + ``rejudge`` 2, the default) has no tie.
    """
    if not verdicts:
        raise ValueError("no verdicts to count")
    passes = sum(1 for v in verdicts if v)
    return passes * 2 >= len(verdicts), 0 < passes < len(verdicts)
