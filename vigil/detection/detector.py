"""One detection pass: every (app, metric, evaluator version, segment) tested against its
baseline, the false-discovery rate controlled over the whole pass, one finding per metric.

A segment value with a baseline of its own is tested against it. A value without one (a
new prompt version) is tested against the app's baseline and against its siblings in the
same window, and counts only if both say worse (the larger p-value is kept). All tests of
a pass go through Benjamini-Hochberg together; a test is significant when its q-value is at
most ``Limits.fdr`` and its effect reaches the metric's floor. For each app, metric and
evaluator version, the finding is the whole app when the app's own test is significant,
else the significant segment that explains most of the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vigil.detection import attribution, stats
from vigil.detection.data import NONE, AppWindow, Series, series
from vigil.detection.metrics import Limits, Metric


@dataclass(frozen=True)
class Test:
    app: str
    series: Series
    segment: dict[str, str]  # {} is the whole app
    comparison: stats.Comparison
    against: str = "its own baseline"
    q: float = 1.0


@dataclass
class Finding:
    app: str
    metric: Metric
    evaluator: str
    version: str
    segment: dict[str, str]
    test: Test
    attribution: list[attribution.Share]
    evidence: dict[str, Any]
    review: list[str] = field(default_factory=list)  # trace ids, worst first

    @property
    def key(self) -> tuple[str, str, str, str, tuple[tuple[str, str], ...]]:
        return (self.app, self.metric.name, self.evaluator, self.version,
                tuple(sorted(self.segment.items())))  # fmt: skip

    def headline(self) -> str:
        c = self.test.comparison
        unit = "%" if self.metric.relative else ""
        size = f"{c.effect:+.0%}" if unit else f"{c.effect:+.3f}"
        named = f"; {self.attribution[0].describe()}" if self.attribution else ""
        what = f"{self.metric.name}" + (f" of {self.evaluator}" if self.evaluator else "")
        change = f"{c.baseline_stat:.4g} -> {c.window_stat:.4g}"
        return f"{what} worse by {size.lstrip('+')} ({change}){named}"


def tests_of(aw: AppWindow, s: Series, limits: Limits) -> Iterator[Test]:
    win = aw.in_window[s.idx]
    window, baseline = s.values[win], s.values[~win]
    needed = limits.baseline_needed(s.metric)
    if len(window) >= limits.min_window_n and len(baseline) >= needed:
        yield Test(aw.app, s, {}, stats.compare(s.metric, window, baseline))
    for key, column in aw.dims.items():
        col = column[s.idx]
        for value in np.unique(col[win]):
            in_w = win & (col == value)
            if value == NONE or in_w.sum() < limits.min_window_n or in_w.sum() == win.sum():
                continue  # too few, or the whole window (the app's own test)
            segment, own = {key: str(value)}, ~win & (col == value)
            if own.sum() >= needed:
                yield Test(aw.app, s, segment,
                           stats.compare(s.metric, s.values[in_w], s.values[own]))  # fmt: skip
                continue
            if not limits.is_new(int(own.sum()), in_w.sum() / win.sum(), len(baseline)):
                continue  # some history, too little to test: not new either
            siblings = win & (col != value) & (col != NONE)
            if len(baseline) < needed or siblings.sum() < limits.min_window_n:
                continue
            vs_app = stats.compare(s.metric, s.values[in_w], baseline)
            vs_siblings = stats.compare(s.metric, s.values[in_w], s.values[siblings])
            both = replace(vs_app, p=max(vs_app.p, vs_siblings.p))
            yield Test(aw.app, s, segment, both, "the app's baseline and its siblings (new)")


def detect(apps: list[AppWindow], limits: Limits, review_limit: int = 20) -> list[Finding]:
    """The findings of one pass over ``apps`` (each with its window and baseline)."""
    by_app = {aw.app: aw for aw in apps}
    tests = [t for aw in apps for s in series(aw, limits) for t in tests_of(aw, s, limits)]
    qs = stats.q_values([t.comparison.p for t in tests])
    tests = [replace(t, q=q) for t, q in zip(tests, qs, strict=True)]
    significant = [
        t for t in tests
        if t.q <= limits.fdr and t.comparison.effect >= limits.floor(t.series.metric)
    ]  # fmt: skip
    groups: dict[tuple[str, str, str, str], list[Test]] = {}
    for t in significant:
        s = t.series
        groups.setdefault((t.app, s.metric.name, s.evaluator, s.version), []).append(t)
    findings = []
    for group in groups.values():
        aw, s = by_app[group[0].app], group[0].series
        ranked = attribution.attribute(aw, s, limits)
        chosen = _choose(group, ranked)
        ranked = _named_first(chosen, ranked)
        findings.append(_finding(aw, chosen, ranked, review_limit))
    return findings


def _choose(group: list[Test], ranked: list[attribution.Share]) -> Test:
    """The whole app if its test is significant, else the segment named first."""
    whole = [t for t in group if not t.segment]
    if whole:
        return whole[0]
    for share in ranked:
        for t in group:
            if t.segment.items() <= share.segment.items():
                return t
    return min(group, key=lambda t: t.q)


def _named_first(t: Test, ranked: list[attribution.Share]) -> list[attribution.Share]:
    """A segment's regression names its own segment first (the test that fired)."""
    if not t.segment or not ranked or t.segment.items() <= ranked[0].segment.items():
        return ranked
    own = [x for x in ranked if t.segment.items() <= x.segment.items()]
    return own[:1] + [x for x in ranked if x not in own[:1]] if own else ranked


def _finding(aw: AppWindow, t: Test, ranked: list[attribution.Share], limit: int) -> Finding:
    s, c = t.series, t.comparison
    win = aw.in_window[s.idx]
    scope = _mask(aw, ranked[0].segment if ranked else t.segment)[s.idx]
    mine = _mask(aw, t.segment)[s.idx]
    evidence: dict[str, Any] = {
        "test": s.metric.test,
        "against": t.against,
        "p_value": c.p,
        "q_value": t.q,
        "effect": c.effect,
        "relative": s.metric.relative,
        "window": {"n": c.window_n, "stat": c.window_stat,
                   "quantiles": stats.quantiles(s.values[win & mine])},
        "baseline": {"n": c.baseline_n, "stat": c.baseline_stat,
                     "quantiles": stats.quantiles(s.values[~win & mine])},
    }  # fmt: skip
    if s.metric.name in ("cost_per_request", "input_tokens", "output_tokens"):
        full = np.zeros(len(aw), dtype=bool)
        full[s.idx] = True
        where = _mask(aw, ranked[0].segment if ranked else t.segment)
        evidence["growth"] = attribution.growth(
            aw, full & aw.in_window & where, full & ~aw.in_window & where
        )
    worst_first = np.argsort(s.values if s.metric.bad == "down" else -s.values, kind="stable")
    picks = [int(s.idx[i]) for i in worst_first if win[i] and scope[i]][:limit]
    return Finding(
        app=aw.app,
        metric=s.metric,
        evaluator=s.evaluator,
        version=s.version,
        segment=t.segment,
        test=t,
        attribution=ranked,
        evidence=evidence,
        review=[str(aw.trace_ids[i]) for i in picks],
    )


def _mask(aw: AppWindow, segment: dict[str, str]) -> np.ndarray:
    mask = np.ones(len(aw), dtype=bool)
    for key, value in segment.items():
        mask &= aw.dims[key] == value
    return mask
