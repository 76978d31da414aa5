"""The gate's rules on paired item scores: regressions fail, noise and flaky items do not."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from vigil.gate.config import GateConfig, Rule
from vigil.gate.rules import NO_BASELINE, ItemScore, error_rule, evaluate_rule, verdict


def gate(*rules: Rule, **extra: object) -> GateConfig:
    metrics = sorted({r.metric for r in rules})
    return GateConfig.model_validate({"evaluators": metrics, "rules": rules, **extra})


def paired(
    cand: Sequence[float | None] | np.ndarray,
    base: Sequence[float | None] | np.ndarray,
    flaky: Sequence[int] = (),
) -> list[ItemScore]:
    pairs = enumerate(zip(list(cand), list(base), strict=True))
    return [ItemScore(f"item-{i}", c, b, i in flaky) for i, (c, b) in pairs]


DROP = Rule(metric="groundedness", max_drop=0.02)


def test_a_regressing_candidate_fails_max_drop_with_the_rule_name_and_the_interval() -> None:
    rng = np.random.default_rng(10)
    base = rng.uniform(0.5, 0.9, 60)
    cand = base - 0.08 + rng.normal(0, 0.03, 60)
    result = evaluate_rule(DROP, paired(cand, base), gate(DROP), has_baseline=True)
    assert result.status == "fail" and verdict([result]) == "fail"
    assert result.name == "groundedness must not drop by more than 0.02"
    assert result.metric == "groundedness" and result.n_pairs == 60
    assert result.interval is not None and result.interval.high < -0.02
    assert result.message == (
        f"mean diff {result.interval.mean_diff:+.3f} (95% CI {result.interval.low:+.3f} to "
        f"{result.interval.high:+.3f}) is below -0.02"
    )
    assert result.candidate_mean == pytest.approx(float(np.mean(cand)))
    assert result.baseline_mean == pytest.approx(float(np.mean(base)))
    assert not result.only_flaky and result.flaky == ()


def test_an_equal_candidate_with_symmetric_noise_passes() -> None:
    base = np.linspace(0.3, 0.9, 40)
    cand = base + np.array([0.1, -0.1] * 20)
    result = evaluate_rule(DROP, paired(cand, base), gate(DROP), has_baseline=True)
    assert result.status == "pass", result.message
    assert "is not confidently below -0.02" in result.message
    assert result.interval is not None and result.interval.low < 0 < result.interval.high


def test_an_inconclusive_drop_passes_but_the_same_drop_on_more_items_fails() -> None:
    rng = np.random.default_rng(11)
    base = rng.uniform(0.3, 0.9, 400)
    cand = base - 0.05 + rng.normal(0, 0.3, 400)
    small = evaluate_rule(DROP, paired(cand[:10], base[:10]), gate(DROP), has_baseline=True)
    large = evaluate_rule(DROP, paired(cand, base), gate(DROP), has_baseline=True)
    assert (small.status, large.status) == ("pass", "fail")


def test_the_floor_uses_every_candidate_value() -> None:
    floor = Rule(metric="groundedness", min=0.7)
    low = evaluate_rule(
        floor, paired([0.5, 0.7, None], [None, 0.9, 0.9]), gate(floor), has_baseline=True
    )
    assert low.status == "fail" and low.message == "candidate mean 0.600 is below the floor 0.7"
    assert low.name == "groundedness must stay at or above 0.7" and low.n_pairs == 1
    high = evaluate_rule(floor, paired([0.8, 0.7], [0.1, 0.1]), gate(floor), has_baseline=True)
    assert high.status == "pass" and high.message == "candidate mean 0.750 >= the floor 0.7"
    assert high.interval is None and high.mcnemar is None


PASS_RATE = Rule(metric="code_tests", not_below_baseline=True)


def test_mcnemar_fails_a_significant_loss_of_passing_items() -> None:
    base = [1.0] * 30
    cand = [0.0] * 8 + [1.0] * 22
    result = evaluate_rule(PASS_RATE, paired(cand, base), gate(PASS_RATE), has_baseline=True)
    assert result.status == "fail"
    assert result.mcnemar is not None and (result.mcnemar.b, result.mcnemar.c) == (8, 0)
    assert result.mcnemar.p_worse == pytest.approx(1 / 256)
    assert (
        "8 item(s) lost, 0 gained of 30" in result.message and "p 0.00391 < 0.05" in result.message
    )


def test_mcnemar_passes_an_equal_candidate_and_an_insignificant_drop_unless_strict() -> None:
    verdicts = [1.0, 0.0, 1.0, 1.0, 0.0] * 6
    same = evaluate_rule(PASS_RATE, paired(verdicts, verdicts), gate(PASS_RATE), has_baseline=True)
    assert same.status == "pass" and "not below the baseline" in same.message
    base = [1.0, 1.0, 0.0] + [1.0] * 20
    cand = [0.0, 0.0, 1.0] + [1.0] * 20  # 2 lost, 1 gained: p = P(X >= 2 | 3) = 0.5
    loose = evaluate_rule(PASS_RATE, paired(cand, base), gate(PASS_RATE), has_baseline=True)
    assert loose.status == "pass" and "p 0.5 >= 0.05" in loose.message
    strict = Rule(metric="code_tests", not_below_baseline=True, strict=True)
    tight = evaluate_rule(strict, paired(cand, base), gate(strict), has_baseline=True)
    assert tight.status == "fail" and "strict" in tight.message


def test_item_threshold_decides_which_values_pass() -> None:
    rule = Rule(metric="judge:groundedness", not_below_baseline=True, item_threshold=0.7)
    base = [0.8] * 10
    cand = [0.65] * 10  # every item drops below 0.7
    result = evaluate_rule(rule, paired(cand, base), gate(rule), has_baseline=True)
    assert result.status == "fail" and result.mcnemar is not None and result.mcnemar.b == 10
    lenient = rule.model_copy(update={"item_threshold": 0.6})
    assert (
        evaluate_rule(lenient, paired(cand, base), gate(rule), has_baseline=True).status == "pass"
    )


def test_a_failure_caused_only_by_flaky_items_passes_and_says_so() -> None:
    base = [0.8] * 30
    cand = [0.45] * 8 + [0.8] * 22
    flaky = range(8)
    result = evaluate_rule(PASS_RATE, paired(cand, base, flaky), gate(PASS_RATE), has_baseline=True)
    assert result.status == "pass" and result.only_flaky
    assert result.flaky == tuple(f"item-{i}" for i in range(8))
    assert result.message.startswith("passes without its 8 flaky items")
    assert "with them: pass rate dropped (8 item(s) lost" in result.message
    assert verdict([result]) == "pass"


def test_a_failure_that_remains_without_the_flaky_items_still_fails() -> None:
    base = [0.8] * 30
    cand = [0.45] * 16 + [0.8] * 14
    result = evaluate_rule(
        PASS_RATE, paired(cand, base, range(4)), gate(PASS_RATE), has_baseline=True
    )
    assert result.status == "fail" and not result.only_flaky
    assert result.flaky == ("item-0", "item-1", "item-2", "item-3")
    assert result.mcnemar is not None and result.mcnemar.b == 16  # measured on every item


def test_without_a_baseline_comparisons_are_skipped_and_the_floor_still_applies() -> None:
    items = paired([0.5, 0.6, 0.4], [None, None, None])
    drop = evaluate_rule(DROP, items, gate(DROP), has_baseline=False)
    assert (drop.status, drop.message, drop.baseline_mean) == ("skipped", NO_BASELINE, None)
    both = Rule(metric="groundedness", max_drop=0.02, min=0.7, not_below_baseline=True)
    floor = evaluate_rule(both, items, gate(both), has_baseline=False)
    assert floor.status == "fail" and floor.message == "candidate mean 0.500 is below the floor 0.7"
    passing = evaluate_rule(
        both.model_copy(update={"min": 0.3}), items, gate(both), has_baseline=False
    )
    assert passing.status == "pass"
    assert passing.message == f"{NO_BASELINE}; candidate mean 0.500 >= the floor 0.3; {NO_BASELINE}"
    assert verdict([drop]) == "pass"


def test_missing_values_leave_the_pairs_and_too_few_pairs_are_skipped() -> None:
    items = paired([0.1, None, 0.9], [0.9, 0.8, None])
    result = evaluate_rule(DROP, items, gate(DROP), has_baseline=True)
    assert result.status == "skipped" and result.n_pairs == 1
    assert result.message == "1 paired item(s): too few to compare"
    assert result.candidate_mean == pytest.approx(0.5)
    assert result.baseline_mean == pytest.approx(0.85)


def test_the_error_rule_tolerates_up_to_max_error_rate() -> None:
    strict = gate(DROP)
    assert error_rule(0, 10, strict).status == "pass"
    failed = error_rule(1, 10, strict)
    assert failed.status == "fail" and failed.message == "1 of 10 items errored (10.0% > 0.0%)"
    assert failed.name == "errors must not exceed 0% of items"
    assert failed.candidate_mean == pytest.approx(0.1) and verdict([failed]) == "fail"
    tolerant = gate(DROP, max_error_rate=0.1)
    assert error_rule(1, 10, tolerant).status == "pass"
    assert error_rule(2, 10, tolerant).status == "fail"
    assert error_rule(0, 0, strict).status == "skipped"
    with pytest.raises(ValueError, match="between 0 and the items"):
        error_rule(11, 10, strict)


def test_an_equal_candidate_under_judge_noise_never_fails_max_drop() -> None:
    """The statistical heart of the gate: 20 runs of an equal candidate, each judged with
    noise (sd 0.1) on 60 items, never fail a 0.02 tolerance. A rule comparing the means
    alone would fail some of these same runs."""
    config = gate(DROP)
    failures, naive = 0, 0
    for seed in range(20):
        rng = np.random.default_rng(1000 + seed)
        truth = rng.uniform(0.2, 0.8, 60)
        base = np.clip(truth + rng.normal(0, 0.1, 60), 0, 1)
        cand = np.clip(truth + rng.normal(0, 0.1, 60), 0, 1)
        result = evaluate_rule(DROP, paired(cand, base), config, has_baseline=True)
        failures += result.status == "fail"
        naive += float(np.mean(cand - base)) < -0.02
    assert failures == 0
    assert naive > 0  # the noise is large enough that the interval matters


def test_a_regression_whose_items_are_nearly_all_flaky_still_fails() -> None:
    """Without its flaky items too few pairs are left to decide: the failure stands."""
    base = [0.9] * 20
    cand = [0.45] * 19 + [0.9]  # the one steady item held; the floor alone would pass it
    rule = Rule(metric="groundedness", max_drop=0.02, min=0.6)
    result = evaluate_rule(rule, paired(cand, base, range(19)), gate(rule), has_baseline=True)
    assert result.status == "fail" and not result.only_flaky
