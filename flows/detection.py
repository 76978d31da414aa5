"""A detection pass against the database: read each app's window and baseline, run the
detector (:mod:`vigil.detection`), record what it finds, count clean windows, and fill the
review queue from the segment each regression names, plus a daily audit sample."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from flows.windows import Window
from vigil.db.types import Conn
from vigil.detection import Finding, Limits, app_window
from vigil.detection import detect as run_detector
from vigil.detection.attribution import Share
from vigil.detection.data import AppWindow, with_similarity
from vigil.detection.drift import Drift, question_drift
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
    drift_sample: int = 400  # questions embedded per side for drift; 0 turns drift off

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
            settings.detect_drift_sample,
        )


Embed = Callable[[list[str]], Sequence[Sequence[float]]]


def detect(
    conn: Conn,
    window: Window,
    baseline: Window,
    *,
    app: str | None = None,
    policy: Policy | None = None,
    run_id: int | None = None,
    embed: Embed | None = None,
) -> list[int]:
    """One pass over ``window`` against ``baseline``; returns the ids of the regressions it
    found (new, refreshed or reopened). With ``embed`` (a text embedding function), the
    drift of incoming questions is a metric too. Call inside a transaction: a pass is
    stored whole."""
    policy = policy or Policy(Limits())
    apps = det_store.window_apps(conn, window, app)
    windows, drifts = [], {}
    for name in apps:
        traces = det_store.window_traces(conn, name, window, baseline, policy.max_traces)
        since = min(window[0], baseline[0])
        scores = det_store.window_scores(conn, [t["id"] for t in traces], since)
        aw = app_window(name, traces, scores, policy.limits.max_segment_values)
        for p in det_store.incident_periods(conn, name, baseline):
            key = (p["metric"], p["evaluator"], p["evaluator_version"])
            aw.incidents.setdefault(key, []).append((p["first_seen"], p["last_seen"]))
        if embed is not None and policy.drift_sample:
            drifts[name] = _drift(conn, aw, policy.drift_sample, embed, since)
        windows.append(aw)
    found = []
    for finding in run_detector(windows, policy.limits, policy.review_limit):
        drift = drifts.get(finding.app)
        if finding.metric.name == "question_drift" and drift is not None:
            finding.evidence["centroid_distance"] = drift.centroid_distance
            finding.evidence["clusters"] = drift.clusters
        rid = reg_store.record(conn, regression(finding, window, baseline), run_id)
        review.enqueue_traces(
            conn,
            regression_id=rid,
            trace_ids=finding.review,
            reason=f"{finding.headline()} (regression #{rid})",
            evaluator=finding.evaluator or None,
            evaluator_version=finding.version or None,
            limit=policy.review_limit,
        )
        found.append(rid)
    if apps:
        reg_store.note_clean_window(conn, apps, found, window[0], policy.resolve_after)
    if policy.audit_per_day:
        review.enqueue_audit(conn, window[0].date(), policy.audit_per_day, app)
    return found


def _drift(conn: Conn, aw: AppWindow, sample: int, embed: Embed, since: datetime) -> Drift | None:
    """Embed a hash sample of each side's questions (the store returns each side in hash
    order) and add their similarity to the baseline's as a column."""
    picked = [
        i for side in (False, True)
        for i in np.flatnonzero(aw.in_window == side)[:sample]
    ]  # fmt: skip
    texts = det_store.trace_inputs(conn, [str(aw.trace_ids[i]) for i in picked], since)
    picked = [i for i in picked if str(aw.trace_ids[i]) in texts]
    if not picked:
        return None
    ids = [str(aw.trace_ids[i]) for i in picked]
    distinct = sorted({texts[i] for i in ids})  # questions repeat: embed each once
    row = {text: n for n, text in enumerate(distinct)}
    vectors = np.asarray(embed(distinct), dtype=float)[[row[texts[i]] for i in ids]]
    drift = question_drift(ids, [texts[i] for i in ids], vectors, aw.in_window[picked])
    if drift is not None:
        with_similarity(aw, drift.similarity)
    return drift


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
