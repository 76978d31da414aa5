"""The gate's statistics against hand-computed values."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np
import pytest

from vigil.gate.stats import Interval, majority, mcnemar, paired_bootstrap, pass_at_k


def boot(
    cand: Sequence[float] | np.ndarray, base: Sequence[float] | np.ndarray, seed: int = 0
) -> Interval:
    return paired_bootstrap(list(cand), list(base), confidence=0.95, resamples=2000, seed=seed)


def test_a_clearly_shifted_paired_sample_gives_an_interval_below_zero() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.4, 0.9, 50)
    cand = base - 0.1 + rng.normal(0, 0.02, 50)
    interval = boot(cand, base)
    assert interval.n == 50
    assert interval.low < interval.mean_diff < interval.high < 0
    assert interval.mean_diff == pytest.approx(float(np.mean(cand - base)))
    assert interval.mean_diff == pytest.approx(-0.1, abs=0.01)


def test_pairing_removes_the_spread_between_items() -> None:
    # Items differ a lot (0.1 to 0.9) but the candidate is better on each by exactly
    # 0.05 ± 0.01: a paired interval is narrow, an unpaired one would straddle 0.
    rng = np.random.default_rng(2)
    base = np.linspace(0.1, 0.9, 40)
    cand = base + 0.05 + rng.uniform(-0.01, 0.01, 40)
    interval = boot(cand, base)
    assert 0.04 < interval.low < interval.high < 0.06


def test_identical_samples_give_the_zero_interval_and_equal_diffs_a_point() -> None:
    same = [0.2, 0.5, 0.9, 1.0]
    assert boot(same, same) == boot(same, same)
    zero = boot(same, same)
    assert (zero.mean_diff, zero.low, zero.high, zero.n) == (0.0, 0.0, 0.0, 4)
    shifted = boot([0.1, 0.4, 0.8], [0.3, 0.6, 1.0])
    assert shifted.low == shifted.high == shifted.mean_diff == pytest.approx(-0.2)
    one = boot([0.5], [0.7])
    assert one.n == 1 and one.low == one.high == pytest.approx(-0.2)


def test_the_seed_makes_the_interval_reproducible() -> None:
    rng = np.random.default_rng(3)
    cand, base = rng.uniform(0, 1, 30), rng.uniform(0, 1, 30)
    first = boot(cand, base)
    assert boot(cand, base) == first
    other = boot(cand, base, seed=99)
    assert (other.low, other.high) != (first.low, first.high)
    assert other.mean_diff == first.mean_diff


def test_bad_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        boot([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="no pairs"):
        boot([], [])
    with pytest.raises(ValueError, match="finite"):
        boot([0.1, float("nan")], [0.1, 0.2])


def test_mcnemar_counts_discordant_pairs_and_gives_exact_binomial_p_values() -> None:
    #             lost lost lost lost lost kept kept gain fail-both
    cand = [False] * 5 + [True, True, True, False]
    base = [True] * 5 + [True, True, False, False]
    test = mcnemar(cand, base)
    assert (test.b, test.c) == (5, 1)
    # P(X >= 5 | n=6, 1/2) = (C(6,5) + C(6,6)) / 64 = 7/64; two-sided doubles it.
    assert test.p_worse == pytest.approx(7 / 64)
    assert test.p_two_sided == pytest.approx(14 / 64)


def test_mcnemar_all_lost_and_no_change() -> None:
    lost = mcnemar([False] * 5, [True] * 5)
    assert (lost.b, lost.c) == (5, 0)
    assert lost.p_worse == pytest.approx(1 / 32)
    assert lost.p_two_sided == pytest.approx(2 / 32)
    gained = mcnemar([True] * 5, [False] * 5)
    assert gained.p_worse == pytest.approx(1.0) and gained.p_two_sided == pytest.approx(2 / 32)
    same = mcnemar([True, False, True], [True, False, True])
    assert (same.b, same.c, same.p_worse, same.p_two_sided) == (0, 0, 1.0, 1.0)
    with pytest.raises(ValueError, match="differ in length"):
        mcnemar([True], [True, False])


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),
        (10, 3, 10, 1.0),
        (10, 0, 5, 0.0),
        (10, 10, 1, 1.0),
        (5, 1, 5, 1.0),
        (4, 2, 2, 1 - 1 / 6),
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
    ],
)
def test_pass_at_k_known_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_matches_the_combinatorial_formula() -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        n = int(rng.integers(1, 60))
        c = int(rng.integers(0, n + 1))
        k = int(rng.integers(1, n + 1))
        expected = 1.0 - comb(n - c, k) / comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12), (n, c, k)
    assert 0.0 < pass_at_k(2000, 3, 100) < 1.0  # large n: no overflow


def test_pass_at_k_refuses_impossible_arguments() -> None:
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(3, 1, 0)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(3, 4, 1)


def test_majority_flags_disagreement_and_a_tie_passes() -> None:
    assert majority([True, True, True]) == (True, False)
    assert majority([False, False]) == (False, False)
    assert majority([True, False, False]) == (False, True)
    assert majority([True, True, False]) == (True, True)
    assert majority([True, False]) == (True, True)
    with pytest.raises(ValueError, match="no verdicts"):
        majority([])
