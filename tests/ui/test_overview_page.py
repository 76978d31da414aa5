"""The Overview page, driven by AppTest against the real test database."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pyarrow as pa

from tests.ui.pages import WINDOW, open_page, seed
from vigil.models import Score, Trace
from vigil.store import scores, traces


def test_overview_renders_an_empty_database(conn: psycopg.Connection) -> None:
    at = open_page("app_pages/overview.py")

    assert {m.label: m.value for m in at.metric}["Traces"] == "0"
    assert "No scored traces" in at.info[0].value
    assert not at.get("vega_lite_chart")


def test_overview_renders_counts_and_the_daily_chart(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_page("app_pages/overview.py")

    metrics = {m.label: m.value for m in at.metric}
    assert (
        metrics["Traces"],
        metrics["Scored"],
        metrics["Open regressions"],
        metrics["Pending reviews"],
    ) == ("4", "4", "1", "2")
    assert not at.info  # the chart replaced the empty-state message
    chart = at.get("vega_lite_chart")[0].proto
    points = pa.ipc.open_stream(chart.datasets[0].data.data).read_pandas()
    assert points[["evaluator", "mean"]].values.tolist() == [["groundedness 1", 0.5]]
    assert points["day"].tolist() == [WINDOW[0]]  # the four traces fall on one day


def test_overview_chart_follows_the_selected_app(conn: psycopg.Connection) -> None:
    seed(conn)
    when = WINDOW[0] + timedelta(hours=2)
    traces.insert_traces(conn, [Trace(id="s0", app="search-bot", start_time=when)])
    scores.upsert_scores(
        conn,
        [scores.ScoreRow("s0", "search-bot", when, "relevance", "2", Score.scored(0.9))],
        run_id=None,
    )
    at = open_page("app_pages/overview.py")

    assert at.selectbox(key="overview_app").options == ["search-bot", "support-bot"]
    for app, series in [("search-bot", "relevance 2"), ("support-bot", "groundedness 1")]:
        at.selectbox(key="overview_app").set_value(app).run()
        chart = at.get("vega_lite_chart")[0].proto
        points = pa.ipc.open_stream(chart.datasets[0].data.data).read_pandas()
        assert points["evaluator"].unique().tolist() == [series]
