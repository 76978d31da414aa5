"""A detection pass against the database: read each app's window and baseline, run the
detector (:mod:`vigil.detection`), record what it finds, count clean windows, and fill the
review queue from the segment each regression names, plus a daily audit sample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.windows import Window
from vigil.db.types import Conn
from vigil.detection import Finding, Limits, app_window
from vigil.detection import detect as run_detector
from vigil.detection.attribution import Share
from vigil.settings import Settings
from vigil.store import detection as det_store
from vigil.store import regressions as reg_store
from vigil.store import review


@dataclass(frozen=True)
class Policy:
    """What a pass needs besides its windows, from the settings."""

    limits: Limits
    max_traces: int = 20000
    review_limit: int = 20
    audit_per_day: int = 5
    resolve_after: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        limits = Limits(
            fdr=settings.detect_fdr,
            min_window_n=settings.detect_min_window_n,
            min_baseline_n=settings.detect_min_baseline_n,
            max_segment_values=settings.detect_max_segment_values,
            threshold=settings.detect_threshold,
            floors=tuple(sorted(settings.detect_floors.items())),
        )
        return cls(
            limits,
            settings.detect_max_traces,
            settings.review_per_regression,
            settings.review_audit_per_day,
            settings.detect_resolve_windows,
        )


def detect(
    conn: Conn,
    window: Window,
    baseline: Window,
    *,
    app: str | None = None,
    policy: Policy | None = None,
    run_id: int | None = None,
) -> list[int]:
    """One pass over ``window`` against ``baseline``; returns the ids of the regressions it
    found (new, refreshed or reopened). Call inside a transaction: a pass is stored whole."""
    policy = policy or Policy(Limits())
    apps = det_store.window_apps(conn, window, app)
    windows = []
    for name in apps:
        traces = det_store.window_traces(conn, name, window, baseline, policy.max_traces)
        scores = det_store.window_scores(conn, [t["id"] for t in traces])
        windows.append(app_window(name, traces, scores, policy.limits.max_segment_values))
    found = []
    for finding in run_detector(windows, policy.limits, policy.review_limit):
        rid = reg_store.record(conn, regression(finding, window, baseline), run_id)
        review.enqueue_traces(
            conn,
            regression_id=rid,
            trace_ids=finding.review,
            reason=f"{finding.headline()} (regression #{rid})",
            evaluator=finding.evaluator or None,
            evaluator_version=finding.version or None,
        )
        found.append(rid)
    if apps:
        reg_store.note_clean_window(conn, apps, found, window[0], policy.resolve_after)
    if policy.audit_per_day:
        review.enqueue_audit(conn, window[0].date(), policy.audit_per_day, app)
    return found


def regression(f: Finding, window: Window, baseline: Window) -> reg_store.Regression:
    c = f.test.comparison
    return reg_store.Regression(
        app=f.app,
        metric=f.metric.name,
        evaluator=f.evaluator,
        evaluator_version=f.version,
        segment=f.segment,
        window_start=window[0],
        window_end=window[1],
        baseline_start=baseline[0],
        baseline_end=baseline[1],
        window_mean=c.window_stat,
        baseline_mean=c.baseline_stat,
        window_n=c.window_n,
        baseline_n=c.baseline_n,
        delta=c.window_stat - c.baseline_stat,
        p_value=c.p,
        q_value=f.test.q,
        effect=min(c.effect, 1e6),
        headline=f.headline(),
        attribution=[share_json(s) for s in f.attribution],
        evidence=f.evidence,
    )


def share_json(s: Share) -> dict[str, Any]:
    return {
        "segment": s.segment,
        "explains": s.explains,
        "traffic": s.traffic,
        "window": s.window_stat,
        "baseline": s.baseline_stat,
        "new": s.new,
        "text": s.describe(),
    }
