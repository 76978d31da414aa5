"""The Streamlit pages, driven by AppTest against the real test database."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from vigil.models import Retrieval, Score, Trace
from vigil.store import regressions, review, scores, traces

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
WINDOW_END = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
WINDOW = (WINDOW_END - timedelta(hours=24), WINDOW_END)
BASELINE = (WINDOW[0] - timedelta(days=7), WINDOW[0])
ATTRIBUTION = [
    {"segment": {"prompt_version": "v7-terse"}, "explains": 0.92, "traffic": 0.75,
     "window": 0.41, "baseline": None, "new": {"prompt_version": True},
     "text": "prompt_version=v7-terse (new) explains 92%"},
    {"segment": {"route": "billing"}, "explains": 0.4, "traffic": 1.0, "window": 0.52,
     "baseline": 0.86, "new": {"route": False}, "text": "route=billing explains 40%"},
]  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_connection_cache() -> Iterator[None]:
    """Each test's app opens its own connection; the cache closes it afterwards."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def seed(conn: psycopg.Connection) -> int:
    """Four scored traces in yesterday's window, a regression over them, its review queue."""
    with conn.transaction():
        traces.insert_traces(
            conn,
            [
                Trace(
                    id=f"t{i}",
                    app="support-bot",
                    start_time=WINDOW[0] + timedelta(hours=i + 1),
                    input=f"How do I get refund number {i}?",
                    output=f"Refund answer {i}.",
                    model="gpt-x-mini",
                    prompt_version="v7-terse",
                    segment={"route": "billing"},
                    retrievals=[Retrieval(document_id=f"doc-{i}", content=f"Refund policy {i}")],
                )
                for i in range(4)
            ],
        )
        scores.upsert_scores(
            conn,
            [
                scores.ScoreRow(
                    f"t{i}",
                    "support-bot",
                    WINDOW[0] + timedelta(hours=i + 1),
                    "groundedness",
                    "1",
                    Score.scored(0.2 + 0.2 * i, f"why {i}"),
                )
                for i in range(4)
            ],
            run_id=None,
        )
        reg_id = regressions.record(
            conn,
            regressions.Regression(
                app="support-bot",
                metric="score",
                evaluator="groundedness",
                evaluator_version="1",
                segment={},
                window_start=WINDOW[0],
                window_end=WINDOW[1],
                baseline_start=BASELINE[0],
                baseline_end=BASELINE[1],
                window_mean=0.5,
                baseline_mean=0.86,
                window_n=4,
                baseline_n=60,
                delta=-0.36,
                p_value=1e-6,
                q_value=1e-5,
                effect=0.36,
                headline="score of groundedness worse by 0.360 (0.86 -> 0.5)",
                attribution=ATTRIBUTION,
                evidence={"test": "Mann-Whitney U, one-sided", "relative": False},
            ),
            run_id=None,
        )
        review.enqueue_traces(
            conn,
            regression_id=reg_id,
            trace_ids=["t0", "t1"],
            reason="low groundedness",
            evaluator="groundedness",
            evaluator_version="1",
        )
    return reg_id


def item_row(conn: psycopg.Connection, trace_id: str) -> dict:
    row = conn.execute("SELECT * FROM review_items WHERE trace_id = %s", (trace_id,)).fetchone()
    assert row is not None
    return row


def test_regressions_page_lists_a_seeded_regression(conn: psycopg.Connection) -> None:
    reg_id = seed(conn)
    at = open_page("app_pages/regressions.py")

    table = at.dataframe[0].value
    assert table["app"].tolist() == ["support-bot"]
    assert table["metric"].tolist() == ["score · groundedness"]
    assert table["baseline → window"].tolist() == ["0.86 → 0.5"]
    assert table["explained by"].tolist() == ["prompt_version=v7-terse (new) explains 92%"]
    assert table["pending reviews"].tolist() == [2]
    attribution = at.dataframe[1].value  # what explains it, first named first
    assert attribution["segment"].tolist() == ["prompt_version=v7-terse", "route=billing"]
    assert attribution["baseline"].tolist() == ["new", "0.86"]

    at.button(key="regression_ack").click().run()
    assert not at.exception
    row = conn.execute("SELECT status FROM regressions WHERE id = %s", (reg_id,)).fetchone()
    assert row == {"status": "acknowledged"}
    assert at.dataframe[0].value["status"].tolist() == ["acknowledged"]
    assert "acknowledged" in at.success[0].value


def test_an_alert_link_opens_its_regression(conn: psycopg.Connection) -> None:
    """Alerts link to /regressions?regression=ID: that one is picked, even when resolved."""
    first = seed(conn)
    conn.execute(
        "INSERT INTO regressions (app, metric, evaluator, evaluator_version, segment,"
        " window_start, window_end, baseline_start, baseline_end, window_mean, baseline_mean,"
        " window_n, baseline_n, delta, p_value, q_value, effect, evidence, headline,"
        " first_seen, last_seen, status)"
        " SELECT app, 'cost_per_request', '', '', segment, window_start, window_end,"
        " baseline_start, baseline_end, 0.002, 0.001, 40, 300, 0.001, 1e-6, 1e-5, 1.0,"
        " '{\"relative\": true}', 'cost doubled', first_seen - interval '2 days',"
        " last_seen - interval '2 days', 'resolved'"
        " FROM regressions WHERE id = %s",
        (first,),
    )
    second = first + 1
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    at.switch_page("app_pages/regressions.py")
    at.query_params["regression"] = str(second)
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="regression_pick").options[0].startswith("#1 ")  # listed later ...
    assert at.selectbox(key="regression_pick").value == second  # ... yet picked
    assert "cost doubled" in [m.value for m in at.markdown]


def test_review_page_labels_the_worst_pending_item(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_page("app_pages/review.py")

    assert at.dataframe[0].value["trace_id"].tolist() == ["t0", "t1"]  # worst score first
    shown = " ".join(str(t.value) for t in at.text)
    assert "How do I get refund number 0?" in shown
    assert "Refund policy 0" in shown and "Refund answer 0." in shown
    assert at.dataframe[1].value["explanation"].tolist() == ["why 0"]

    at.radio(key="review_label").set_value("hallucinated")
    at.text_area(key="review_note").input("cites a policy that does not exist")
    at.text_input(key="review_reviewer").input("  Ada  ")
    at.button(key="review_submit").click().run()

    assert not at.exception
    assert "labeled 'hallucinated' by Ada" in at.success[0].value
    row = item_row(conn, "t0")
    assert (row["status"], row["label"], row["reviewer"], row["note"]) == (
        "labeled",
        "hallucinated",
        "Ada",
        "cites a policy that does not exist",
    )
    events = review.item_events(conn, row["id"])
    assert [(e["actor"], e["action"], e["label"]) for e in events] == [
        ("Ada", "label", "hallucinated")
    ]
    assert at.dataframe[0].value["trace_id"].tolist() == ["t1"]
    assert "How do I get refund number 1?" in " ".join(str(t.value) for t in at.text)
    assert at.text_area(key="review_note").value == ""  # ready for the next item
    assert at.text_input(key="review_reviewer").value == "  Ada  "

    at.run()
    assert at.dataframe[0].value["trace_id"].tolist() == ["t1"]
    at.toggle(key="review_show_labeled").set_value(True).run()
    labeled = at.dataframe[-1].value
    assert labeled[["trace_id", "label", "reviewer"]].values.tolist() == [
        ["t0", "hallucinated", "Ada"]
    ]


def test_review_without_reviewer_shows_an_error_and_stores_nothing(
    conn: psycopg.Connection,
) -> None:
    seed(conn)
    at = open_page("app_pages/review.py")

    at.radio(key="review_label").set_value("correct")
    at.text_area(key="review_note").input("fine")
    at.button(key="review_submit").click().run()

    assert not at.exception
    assert "Enter your name as reviewer" in at.error[0].value
    assert not at.success
    assert item_row(conn, "t0")["status"] == "pending"
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM review_items WHERE status <> 'pending') AS labeled,"
        " (SELECT count(*) FROM review_events) AS events"
    ).fetchone()
    assert counts == {"labeled": 0, "events": 0}
    assert at.dataframe[0].value["trace_id"].tolist() == ["t0", "t1"]


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


def test_runs_page_renders(conn: psycopg.Connection) -> None:
    from vigil.store import runs

    run_id = runs.start_run(
        conn,
        kind="window",
        window_start=WINDOW[0],
        window_end=WINDOW[1],
        evaluators=["groundedness"],
        traces_total=4,
    )
    runs.add_progress(conn, run_id, done=2, scored=2, skipped=0, errors=0)
    at = open_page("app_pages/runs.py")

    table = at.dataframe[0].value
    assert table[["id", "status", "progress"]].values.tolist() == [[run_id, "running", 0.5]]


def test_a_dropped_connection_is_replaced(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_page("app_pages/regressions.py")
    conn.execute(  # what a database restart does to the app's connection
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    at.run()
    assert not at.exception
    assert at.dataframe[0].value["metric"].tolist() == ["score · groundedness"]


def test_unreachable_database_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    monkeypatch.setenv("VIGIL_DATABASE_URL", f"postgresql://vigil@127.0.0.1:{port}/vigil")
    at = AppTest.from_file(str(APP), default_timeout=30).run()

    assert not at.exception
    assert "vigil db start" in at.error[0].value
    assert "VIGIL_DATABASE_URL" in at.error[0].value
