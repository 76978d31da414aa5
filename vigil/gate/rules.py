"""The gate's rules applied to paired item scores: pass, fail or skipped, with one line
saying what was measured against which bound.

A rule sees one metric's scores on every item: the candidate's and the baseline's value
(None when missing). Pairs are the items where both are present; the floor (``min``) uses
every candidate value. Without a baseline (the first run on a dataset version) the
comparisons are skipped and only the floor applies.

For a ``pass@k`` metric the runner gives each item its pass@k estimate (a float, from
:func:`vigil.gate.stats.pass_at_k`); like any metric, an item passes when its value is at
least the rule's ``item_threshold``, which is what McNemar's test counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from vigil.gate.config import GateConfig, Rule
from vigil.gate.stats import Interval, McNemar, mcnemar, paired_bootstrap

Status = Literal["pass", "fail", "skipped"]
NO_BASELINE = "no baseline: first run on this dataset version"
ERRORS_METRIC = "errors"


@dataclass(frozen=True)
class ItemScore:
    """One item's value of one metric, candidate and baseline side by side."""

    key: str
    candidate: float | None  # None: the candidate errored or the evaluator skipped/errored
    baseline: float | None  # None: not in the baseline run, or no baseline
    flaky: bool = False  # the judge's verdicts disagreed when judged again


@dataclass(frozen=True)
class RuleResult:
    """What one rule found.

    ``candidate_mean`` is over every candidate value, ``baseline_mean`` over every baseline
    value, ``interval`` over the pairs (for the errors rule, ``candidate_mean`` is the share
    of items that errored). ``only_flaky``: the rule failed with its flaky items and passes
    without them, so its status is "pass" and its message says so.
    """

    name: str
    metric: str
    status: Status
    message: str
    candidate_mean: float | None
    baseline_mean: float | None
    interval: Interval | None
    mcnemar: McNemar | None
    n_pairs: int
    flaky: tuple[str, ...]
    only_flaky: bool = False


@dataclass(frozen=True)
class _Check:
    status: Status
    message: str


def evaluate_rule(
    rule: Rule, items: Sequence[ItemScore], config: GateConfig, *, has_baseline: bool
) -> RuleResult:
    """Apply ``rule`` to its metric's items; a failure caused only by flaky items passes:
    one that fails with them and passes without them. When the steady items alone are too
    few to decide (skipped), the failure stands."""
    result, checks = _evaluate(rule, items, config, has_baseline)
    flaky = result.flaky
    if result.status != "fail" or not flaky:
        return result
    steady = [item for item in items if not item.flaky]
    without, steady_checks = _evaluate(rule, steady, config, has_baseline)
    # every check decided with all items must decide without the flaky ones too
    decided = all(s.status != "skipped" or a.status == "skipped"
                  for a, s in zip(checks, steady_checks, strict=True))  # fmt: skip
    if without.status != "pass" or not decided:
        return result
    message = (
        f"passes without its {len(flaky)} flaky item{'s' if len(flaky) != 1 else ''} "
        f"({without.message}); with them: {result.message}"
    )
    return replace(without, status="pass", message=message, flaky=flaky, only_flaky=True)


def _evaluate(
    rule: Rule, items: Sequence[ItemScore], config: GateConfig, has_baseline: bool
) -> tuple[RuleResult, list[_Check]]:
    cands = [i.candidate for i in items if i.candidate is not None]
    bases = [i.baseline for i in items if i.baseline is not None]
    pairs = [
        (i.candidate, i.baseline)
        for i in items
        if i.candidate is not None and i.baseline is not None
    ]
    interval: Interval | None = None
    test: McNemar | None = None
    checks: list[_Check] = []
    if rule.max_drop is not None:
        if not has_baseline:
            checks.append(_Check("skipped", NO_BASELINE))
        elif len(pairs) < 2:
            checks.append(_Check("skipped", f"{len(pairs)} paired item(s): too few to compare"))
        else:
            interval = paired_bootstrap(
                [c for c, _ in pairs],
                [b for _, b in pairs],
                confidence=config.confidence,
                resamples=config.resamples,
                seed=config.seed,
            )
            checks.append(_drop_check(interval, rule.max_drop, config.confidence))
    if rule.min is not None:
        if not cands:
            checks.append(_Check("skipped", "no candidate values to average"))
        else:
            mean = float(np.mean(cands))
            ok = mean >= rule.min
            op = ">=" if ok else "is below"
            checks.append(
                _Check(
                    "pass" if ok else "fail",
                    f"candidate mean {mean:.3f} {op} the floor {rule.min:g}",
                )
            )
    if rule.not_below_baseline:
        if not has_baseline:
            checks.append(_Check("skipped", NO_BASELINE))
        elif not pairs:
            checks.append(_Check("skipped", "no paired items to compare"))
        else:
            test = mcnemar(
                [c >= rule.item_threshold for c, _ in pairs],
                [b >= rule.item_threshold for _, b in pairs],
            )
            checks.append(_pass_rate_check(test, len(pairs), rule, config.confidence))
    result = RuleResult(
        name=rule.title,
        metric=rule.metric,
        status=_combine(checks),
        message=_message(checks),
        candidate_mean=float(np.mean(cands)) if cands else None,
        baseline_mean=float(np.mean(bases)) if bases else None,
        interval=interval,
        mcnemar=test,
        n_pairs=len(pairs),
        flaky=tuple(i.key for i in items if i.flaky),
    )
    return result, checks


def _drop_check(interval: Interval, max_drop: float, confidence: float) -> _Check:
    ci = (
        f"mean diff {interval.mean_diff:+.3f} ({confidence:.0%} CI {interval.low:+.3f} "
        f"to {interval.high:+.3f})"
    )
    if interval.high < -max_drop:
        return _Check("fail", f"{ci} is below -{max_drop:g}")
    return _Check("pass", f"{ci} is not confidently below -{max_drop:g}")


def _pass_rate_check(test: McNemar, n: int, rule: Rule, confidence: float) -> _Check:
    # Over the pairs: candidate passes = baseline passes - b + c.
    alpha = 1.0 - confidence
    counts = f"{test.b} item(s) lost, {test.c} gained of {n}"
    if test.b <= test.c:
        return _Check("pass", f"pass rate not below the baseline ({counts})")
    if rule.strict:
        return _Check("fail", f"pass rate dropped ({counts}; strict)")
    if test.p_worse < alpha:
        return _Check(
            "fail",
            f"pass rate dropped ({counts}; McNemar one-sided p {test.p_worse:.3g} < {alpha:.3g})",
        )
    return _Check(
        "pass",
        f"pass rate drop not significant ({counts}; McNemar one-sided "
        f"p {test.p_worse:.3g} >= {alpha:.3g})",
    )


def _combine(checks: Sequence[_Check]) -> Status:
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        return "fail"
    return "pass" if "pass" in statuses else "skipped"


def _message(checks: Sequence[_Check]) -> str:
    failed = [c.message for c in checks if c.status == "fail"]
    return "; ".join(failed or [c.message for c in checks])


def error_rule(errors: int, total: int, config: GateConfig) -> RuleResult:
    """The rule on the items that could not be judged: it fails when the share of items on
    which the candidate raised, timed out or answered nothing, or an evaluator of a rule
    failed, exceeds ``max_error_rate``."""
    if not 0 <= errors <= max(total, 0):
        raise ValueError(f"errors ({errors}) must be between 0 and the items ({total})")
    name = f"errors must not exceed {config.max_error_rate:.0%} of items"
    if total == 0:
        return RuleResult(name, ERRORS_METRIC, "skipped", "no items", None, None, None, None, 0, ())
    rate = errors / total
    ok = rate <= config.max_error_rate
    op = "<=" if ok else ">"
    message = f"{errors} of {total} items errored ({rate:.1%} {op} {config.max_error_rate:.1%})"
    return RuleResult(
        name, ERRORS_METRIC, "pass" if ok else "fail", message, rate, None, None, None, total, ()
    )


def verdict(results: Sequence[RuleResult]) -> Literal["pass", "fail"]:
    """ "fail" when any rule failed; skipped rules (no baseline yet) do not fail the gate."""
    return "fail" if any(r.status == "fail" for r in results) else "pass"
