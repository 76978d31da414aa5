"""The exporter observes each committed trace and score once, per app and per segment
(capped), and reads totals, regressions and SLO budgets from the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.metrics import world
from tests.metrics.conftest import family_types, samples, value
from vigil.db import connect
from vigil.metrics import OTHER, Exporter

APP = world.APP
ROUTES = ["a", "a", "a", "b", "b", "c"]  # cap 2: c folds into (other)


def test_traces_and_scores_per_app_with_counts_and_sums(conn, exporter: Exporter) -> None:  # type: ignore[no-untyped-def]
    rows = world.traces(conn, ROUTES, "t", error_every=3)  # errors: positions 0 and 3
    world.scores(conn, rows[:4], [0.9, 0.8, 0.3, 1.0])
    exporter.refresh()
    found = samples(exporter)
    assert value(found, "vigil_requests_total", app=APP) == 6
    assert value(found, "vigil_request_errors_total", app=APP) == 2
    assert value(found, "vigil_input_tokens_total", app=APP) == 600
    assert value(found, "vigil_output_tokens_total", app=APP) == 120
    assert value(found, "vigil_request_latency_seconds_count", app=APP) == 6
    assert value(found, "vigil_request_latency_seconds_sum", app=APP) == pytest.approx(4.5)
    # 0.5, 0.6, 0.7, 0.8, 0.9 and 1.0 s
    assert value(found, "vigil_request_latency_seconds_bucket", app=APP, le="0.5") == 1
    assert value(found, "vigil_request_latency_seconds_bucket", app=APP, le="1.0") == 6
    assert value(found, "vigil_request_cost_usd_sum", app=APP) == pytest.approx(0.006)
    score = {"app": APP, "evaluator": "groundedness"}
    assert value(found, "vigil_score_count", **score) == 4
    assert value(found, "vigil_score_sum", **score) == pytest.approx(3.0)
    assert value(found, "vigil_score_bucket", le="0.5", **score) == 1


def test_segment_values_beyond_the_cap_fold_into_other(conn, exporter: Exporter) -> None:  # type: ignore[no-untyped-def]
    rows = world.traces(conn, ROUTES, "t", error_every=3)
    world.scores(conn, rows, [0.5] * 6)
    exporter.refresh()
    found = samples(exporter)

    def requests(key: str, val: str) -> float | None:
        return value(found, "vigil_segment_requests_total", app=APP, segment_key=key,
                     segment_value=val)  # fmt: skip

    assert (requests("route", "a"), requests("route", "b"), requests("route", OTHER)) == (3, 2, 1)
    assert requests("route", "c") is None
    assert requests("model", "gpt-4o-mini") == 6 and requests("prompt_version", "v1") == 6
    assert value(found, "vigil_segment_request_errors_total", app=APP, segment_key="route",
                 segment_value="b") == 1  # fmt: skip
    assert value(found, "vigil_segment_score_count", app=APP, evaluator="groundedness",
                 segment_key="route", segment_value=OTHER) == 1  # fmt: skip
    values = {dict(labels).get("segment_value") for (_, labels) in found}
    assert "c" not in values


def test_a_second_refresh_adds_only_new_rows(conn, exporter: Exporter) -> None:  # type: ignore[no-untyped-def]
    first = world.traces(conn, ["a", "b"], "first")
    world.scores(conn, first, [0.2, 0.4])
    exporter.refresh()
    exporter.refresh()  # nothing new
    assert value(samples(exporter), "vigil_requests_total", app=APP) == 2
    second = world.traces(conn, ["a"], "second")
    world.scores(conn, second, [1.0])
    world.scores(conn, first, [0.9, 0.9])  # final scores are never overwritten: no change
    exporter.refresh()
    found = samples(exporter)
    assert value(found, "vigil_requests_total", app=APP) == 3
    score = {"app": APP, "evaluator": "groundedness"}
    assert value(found, "vigil_score_count", **score) == 3
    assert value(found, "vigil_score_sum", **score) == pytest.approx(1.6)


def test_rows_from_before_the_start_are_not_counted(conn, clean_counts: str) -> None:  # type: ignore[no-untyped-def]
    world.traces(conn, ["a"], "old")
    exporter = Exporter(clean_counts, max_segment_values=2)
    exporter.refresh()
    exporter.refresh()
    assert value(samples(exporter), "vigil_requests_total", app=APP) is None


def test_a_transaction_that_commits_late_is_counted_once(conn, exporter: Exporter,  # type: ignore[no-untyped-def]
                                                        db_url: str) -> None:  # fmt: skip
    with connect(db_url) as late:  # not autocommit: an open transaction until commit
        late.execute("SELECT pg_current_xact_id()")  # takes its transaction id now
        world.traces(conn, ["a"], "early")  # starts after, commits first
        late.execute(
            "INSERT INTO traces (id, app, start_time, latency_ms, part_time)"
            " VALUES ('late', %s, now(), 1, now())",
            (APP,),
        )
        exporter.refresh()
        assert value(samples(exporter), "vigil_requests_total", app=APP) == 1
        late.commit()
    exporter.refresh()
    exporter.refresh()
    assert value(samples(exporter), "vigil_requests_total", app=APP) == 2


def test_totals_regressions_and_slo_budget(conn, clean_counts: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    exporter = Exporter(clean_counts, max_segment_values=2, slo_file=world.slo_file(tmp_path))
    world.traces(conn, ["a", "a", "b", "b"], "t")  # 0.5, 0.6, 0.7, 0.8 s: 3 of 4 good
    world.evaluation_run(conn)
    world.regression(conn)
    exporter.refresh()
    found = samples(exporter)
    assert value(found, "vigil_slo_budget_left_ratio", slo="fast", app=APP) == pytest.approx(0.5)
    assert value(found, "vigil_slo_good_ratio", slo="fast", app=APP) == pytest.approx(0.75)
    assert value(found, "vigil_open_regressions", app=APP, metric="score", status="open") == 1
    assert value(found, "vigil_eval_scores_total", app=APP, outcome="scored") == 4
    assert value(found, "vigil_eval_scores_total", app=APP, outcome="error") == 2
    assert value(found, "vigil_eval_judge_spend_usd_total", app=APP) == pytest.approx(0.25)
    assert value(found, "vigil_eval_judge_tokens_total", app=APP) == 1200
    assert family_types(exporter)["vigil_eval_scores"] == "counter"
