"""The Overview page, driven by AppTest against the real test database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.ui.pages import WINDOW, open_page, seed
from ui.access import Viewer
from ui.review_view import escape
from vigil.models import Score, Trace
from vigil.settings import load_settings
from vigil.store import scores, traces

PAGE = "app_pages/overview.py"


@pytest.fixture(autouse=True)
def empty_rollups(conn: psycopg.Connection) -> Iterator[None]:
    """The rollups of migration 0012 start empty, like the tables they summarise."""
    conn.execute("TRUNCATE score_daily, trace_daily, latency_daily")
    yield


def datasets(at: AppTest) -> list[pd.DataFrame]:
    """Every dataset of every chart on the page."""
    return [
        pa.ipc.open_stream(ds.data.data).read_pandas()
        for chart in at.get("vega_lite_chart")
        for ds in chart.proto.datasets
    ]


def with_column(at: AppTest, column: str) -> pd.DataFrame:
    found = [d for d in datasets(at) if column in d.columns]
    assert len(found) == 1, [list(d.columns) for d in datasets(at)]
    return found[0]


def search_bot(conn: psycopg.Connection, value: float = 0.9) -> None:
    when = WINDOW[0] + timedelta(hours=2)
    traces.insert_traces(conn, [Trace(id="s0", app="search-bot", start_time=when,
                                       latency_ms=300.0, cost_usd=0.002)])  # fmt: skip
    scores.upsert_scores(
        conn, [scores.ScoreRow("s0", "relevance", "2", Score.scored(value))],
        run_id=None,
    )  # fmt: skip


def test_overview_of_an_empty_database_says_how_to_send_traces(conn: psycopg.Connection) -> None:
    at = open_page(PAGE)

    assert {m.label: m.value for m in at.metric}["Traces"] == "0"
    settings = load_settings()
    assert at.info[0].value == (
        "No traces yet: run `vigil demo`, or point an OTLP exporter at "
        f"http://{settings.host}:{settings.otlp_port}/v1/traces (see docs/otlp.md)."
    )
    assert not at.get("vega_lite_chart")


def test_overview_says_when_the_range_is_empty(conn: psycopg.Connection) -> None:
    when = WINDOW[0] - timedelta(days=2)  # older than the last 24 hours at any time of day
    traces.insert_traces(conn, [Trace(id="old", app="support-bot", start_time=when)])
    at = open_page(PAGE)
    at.selectbox(key="overview_range").set_value("Last 24 hours").run()

    assert at.info[0].value.startswith("No traces or scores in this range yet: pick a longer")


def test_overview_renders_counts_and_charts(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_page(PAGE)

    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Traces"], metrics["Scored"], metrics["Open regressions"],
            metrics["Pending reviews"]) == ("4", "4", "1", "2")  # fmt: skip
    quality = with_column(at, "mean")
    assert quality[["evaluator", "mean", "n"]].values.tolist() == [["groundedness 1", 0.5, 4]]
    assert quality["bucket"].tolist() == [WINDOW[0]]  # the four traces fall on one day
    traffic = with_column(at, "requests")
    assert traffic["requests"].tolist() == [4]
    tokens = with_column(at, "tokens")
    assert set(tokens["version"]) == {"gpt-x-mini · v7-terse"}


def test_overview_follows_the_selected_app(conn: psycopg.Connection) -> None:
    seed(conn)
    search_bot(conn)
    at = open_page(PAGE)

    assert at.selectbox(key="overview_app").options == ["All apps", "search-bot", "support-bot"]
    assert set(with_column(at, "mean")["evaluator"]) == {"groundedness 1", "relevance 2"}
    for app, series in [("search-bot", "relevance 2"), ("support-bot", "groundedness 1")]:
        at.selectbox(key="overview_app").set_value(app).run()
        assert with_column(at, "mean")["evaluator"].unique().tolist() == [series]


def test_overview_shows_only_the_viewers_apps(conn: psycopg.Connection) -> None:
    seed(conn)
    search_bot(conn)
    at = open_page(PAGE, Viewer("bo", "viewer", frozenset({"search-bot"})))

    assert at.selectbox(key="overview_app").options == ["All apps", "search-bot"]
    assert with_column(at, "mean")["evaluator"].tolist() == ["relevance 2"]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Traces"], metrics["Open regressions"]) == ("1", "0")
    assert not any("regression=" in m.value for m in at.markdown)


def test_overview_marks_a_new_prompt_version(conn: psycopg.Connection) -> None:
    seed(conn)
    first = WINDOW[0] + timedelta(hours=10)
    traces.insert_traces(conn, [Trace(id="n0", app="support-bot", start_time=first,
                                      model="gpt-x-mini", prompt_version="v8")])  # fmt: skip
    at = open_page(PAGE)

    rules = with_column(at, "what")
    marked = dict(zip(rules["what"], rules["bucket"], strict=True))
    assert marked["support-bot: prompt_version v8"] == first
    assert marked["support-bot: prompt_version v7-terse"] == WINDOW[0] + timedelta(hours=1)
    assert marked["support-bot: model gpt-x-mini"] == WINDOW[0] + timedelta(hours=1)


def test_overview_lists_open_regressions_with_links(conn: psycopg.Connection) -> None:
    reg_id = seed(conn)
    at = open_page(PAGE)

    links = [m.value for m in at.markdown if "regression=" in m.value]
    assert len(links) == 1
    assert f"(/regressions?regression={reg_id})" in links[0]
    assert escape("score of groundedness worse by 0.360 (0.86 -> 0.5)") in links[0]


def test_overview_escapes_ingested_text(conn: psycopg.Connection) -> None:
    seed(conn)
    conn.execute("UPDATE regressions SET headline = %s", ("**bold** :red[x] <b>hi</b>",))
    at = open_page(PAGE)

    (link,) = [m.value for m in at.markdown if "regression=" in m.value]
    assert r"\*\*bold\*\* \:red\[x\] \<b\>hi\</b\>" in link


def test_overview_charts_are_cached_a_minute(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_page(PAGE)
    search_bot(conn)  # arrives after the first view

    at.run()
    assert set(with_column(at, "mean")["evaluator"]) == {"groundedness 1"}  # the cached rows
    st.cache_data.clear()  # what the minute's end does
    at.run()
    assert set(with_column(at, "mean")["evaluator"]) == {"groundedness 1", "relevance 2"}


def test_cached_charts_are_not_shared_between_viewers_of_other_apps(
    conn: psycopg.Connection,
) -> None:
    seed(conn)
    search_bot(conn)
    everything = open_page(PAGE)  # an admin first: every app's rows, now cached
    assert set(with_column(everything, "mean")["evaluator"]) == {"groundedness 1", "relevance 2"}

    at = open_page(PAGE, Viewer("bo", "viewer", frozenset({"search-bot"})))
    assert with_column(at, "mean")["evaluator"].tolist() == ["relevance 2"]


def test_overview_shows_slo_budget_left(conn: psycopg.Connection, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    seed(conn)  # groundedness 0.2, 0.4, 0.6, 0.8: half of them >= 0.5
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text(
        "slos:\n"
        "  - {name: grounded, app: support-bot, target: 0.9, window: 7d,\n"
        "     sli: {evaluator: groundedness, threshold: 0.5}}\n"
        "  - {name: other-app, app: search-bot, target: 0.9, window: 7d,\n"
        "     sli: {measure: latency_ms, bound: 1000}}\n"
    )
    monkeypatch.setenv("VIGIL_SLO_FILE", str(slo_file))
    at = open_page(PAGE)

    table = at.dataframe[0].value
    expected = [["grounded", 4, 2], ["other-app", 0, 0]]
    assert table[["SLO", "events", "good"]].values.tolist() == expected
    # a bad share of 0.5 against a budget of 0.1 burns it five times over
    assert table["budget left"].tolist() == ["-400%", "no events yet"]
