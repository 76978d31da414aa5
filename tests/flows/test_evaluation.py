"""Evaluation and detection on a generated world, through the plain functions."""

from __future__ import annotations

import os

from cli.demo.traffic import DemoPlan
from evaluators import DEFAULT_EVALUATORS, build
from flows import detection
from flows.evaluation import evaluate_slice, keys
from flows.planning import plan_app
from flows.resources import build_resources
from flows.windows import days, detection_windows
from vigil.db import connect
from vigil.settings import load_settings
from vigil.store import sampling


def evaluate_days(conn, plan: DemoPlan) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    settings = load_settings()
    evaluators = build(list(DEFAULT_EVALUATORS), build_resources(settings, conn))
    found = {}
    for start, end in days(plan.start, plan.end):
        for app in sampling.window_apps(conn, start, end, None):
            picked = plan_app(conn, settings, app, (start, end), keys(evaluators), None)
            with connect(os.environ["VIGIL_DATABASE_URL"]) as lock_conn:
                evaluate_slice(conn, lock_conn, picked.trace_ids, evaluators, None, 64)
        window, baseline = detection_windows(end, 24, 7)
        with conn.transaction():
            found[f"{start:%Y-%m-%d}"] = detection.detect(conn, window, baseline)
    return found


def test_the_regression_appears_on_the_injected_day_only(conn, world, plan) -> None:  # type: ignore[no-untyped-def]
    found = evaluate_days(conn, plan)
    injected = f"{plan.regression_start:%Y-%m-%d}"
    assert found[injected], "no regression on the day v2 shipped"
    assert all(not ids for day, ids in found.items() if day != injected), found

    reg = conn.execute(
        "SELECT * FROM regressions WHERE metric = 'score' AND evaluator = 'groundedness'"
    ).fetchone()
    assert reg["window_mean"] < reg["baseline_mean"] - 0.05
    assert reg["q_value"] <= 0.01 and reg["status"] == "open"
    top = reg["attribution"][0]  # the new prompt version explains the drop
    assert top["segment"] == {"prompt_version": "v2"}
    assert top["new"] == {"prompt_version": True} and top["explains"] > 0.8
    assert set(reg["evidence"]["window"]["quantiles"]) == {"p5", "p25", "p50", "p75", "p95"}
    for other in conn.execute("SELECT attribution FROM regressions").fetchall():
        assert other["attribution"][0]["segment"].get("prompt_version") == "v2", other

    queued = conn.execute(
        "SELECT i.score, t.prompt_version FROM review_items i JOIN traces t ON t.id = i.trace_id"
        " WHERE i.regression_id = %s",
        (reg["id"],),
    ).fetchall()
    assert len(queued) == 20
    assert all(q["prompt_version"] == "v2" for q in queued)  # from the named segment
    worst_day = conn.execute(
        "SELECT min(value) AS m FROM scores WHERE evaluator = 'groundedness' AND trace_start >= %s",
        (plan.regression_start,),
    ).fetchone()["m"]
    assert min(q["score"] for q in queued) == worst_day
    audit = conn.execute(
        "SELECT audit_day, count(*) AS n FROM review_items WHERE audit_day IS NOT NULL"
        " GROUP BY 1"
    ).fetchall()
    assert len(audit) == plan.days and all(a["n"] == 5 for a in audit)  # a sample a day


def test_scores_are_stored_once_and_reruns_add_nothing(conn, world, plan) -> None:  # type: ignore[no-untyped-def]
    evaluate_days(conn, plan)
    counts = conn.execute(
        "SELECT status, count(*) AS n FROM scores GROUP BY status ORDER BY status"
    ).fetchall()
    n_traces = conn.execute("SELECT count(*) AS n FROM traces").fetchone()["n"]
    total = sum(r["n"] for r in counts)
    assert total == n_traces * len(DEFAULT_EVALUATORS)
    statuses = {r["status"]: r["n"] for r in counts}
    assert "error" not in statuses
    # Error traces have no answer: answer relevance and groundedness skip them.
    assert statuses["skipped"] >= 2
    regressions = conn.execute("SELECT count(*) AS n FROM regressions").fetchone()["n"]
    queued = conn.execute("SELECT count(*) AS n FROM review_items").fetchone()["n"]

    evaluate_days(conn, plan)
    assert conn.execute("SELECT count(*) AS n FROM scores").fetchone()["n"] == total
    assert conn.execute("SELECT count(*) AS n FROM regressions").fetchone()["n"] == regressions
    assert conn.execute("SELECT count(*) AS n FROM review_items").fetchone()["n"] == queued
