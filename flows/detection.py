"""The regression rule: a window's mean score against the days before it.

For each app, evaluator and version, Welch's z statistic compares the window's mean with
the baseline's. A regression needs both statistical weight (z at or above ``z_threshold``)
and a drop that matters (at least ``min_delta``), with enough scores on each side. The
evidence breaks the window down by prompt version, model and route, and the worst traces
enter the review queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flows.windows import Window
from vigil.db.types import Conn
from vigil.store import regressions as reg_store
from vigil.store import review


@dataclass(frozen=True)
class Rule:
    z_threshold: float = 4.0
    min_delta: float = 0.03
    min_window_n: int = 20
    min_baseline_n: int = 50


def z_score(stats: reg_store.WindowStats) -> float | None:
    """Welch's z for baseline mean minus window mean; None when it cannot be computed."""
    if stats.window_mean is None or stats.baseline_mean is None:
        return None
    var = (stats.window_var or 0.0) / stats.window_n + (stats.baseline_var or 0.0) / max(
        stats.baseline_n, 1
    )
    delta = stats.baseline_mean - stats.window_mean
    if var <= 0:
        return math.inf if delta > 0 else 0.0
    return delta / math.sqrt(var)


def is_regression(stats: reg_store.WindowStats, rule: Rule) -> bool:
    if stats.window_n < rule.min_window_n or stats.baseline_n < rule.min_baseline_n:
        return False
    z = z_score(stats)
    assert stats.window_mean is not None and stats.baseline_mean is not None
    return (
        z is not None
        and z >= rule.z_threshold
        and (stats.baseline_mean - stats.window_mean >= rule.min_delta)
    )


def detect(
    conn: Conn,
    window: Window,
    baseline: Window,
    *,
    app: str | None = None,
    rule: Rule | None = None,
    review_limit: int = 20,
    run_id: int | None = None,
) -> list[int]:
    """Find regressions in ``window``, store them with evidence, queue the worst traces.

    Idempotent: the same window refreshes the same regression rows. Returns their ids.
    """
    rule = rule or Rule()
    found = []
    for stats in reg_store.window_stats(conn, window, baseline, app):
        if not is_regression(stats, rule):
            continue
        assert stats.window_mean is not None and stats.baseline_mean is not None
        evidence = {
            dim: reg_store.segment_means(
                conn, stats.app, stats.evaluator, stats.evaluator_version, window, dim
            )
            for dim in reg_store.SEGMENT_DIMENSIONS
        }
        regression = reg_store.Regression(
            app=stats.app,
            evaluator=stats.evaluator,
            evaluator_version=stats.evaluator_version,
            window_start=window[0],
            window_end=window[1],
            baseline_start=baseline[0],
            baseline_end=baseline[1],
            window_mean=stats.window_mean,
            baseline_mean=stats.baseline_mean,
            window_n=stats.window_n,
            baseline_n=stats.baseline_n,
            delta=stats.baseline_mean - stats.window_mean,
            z=min(z_score(stats) or 0.0, 1e6),
            evidence={"segments": _jsonable(evidence), "rule": rule.__dict__},
        )
        rid = reg_store.upsert_regression(conn, regression, run_id)
        review.enqueue_worst(
            conn,
            regression_id=rid,
            app=stats.app,
            evaluator=stats.evaluator,
            evaluator_version=stats.evaluator_version,
            window=window,
            limit=review_limit,
        )
        found.append(rid)
    return found


def _jsonable(evidence: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {
        dim: [{"value": r["value"], "mean": float(r["mean"]), "n": int(r["n"])} for r in rows]
        for dim, rows in evidence.items()
    }
