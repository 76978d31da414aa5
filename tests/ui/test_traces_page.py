"""The Traces page, driven by AppTest against the real test database: filters, keyset
paging, ``?trace=ID`` opening the waterfall, and traces of apps not granted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow.ipc as ipc
import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.signin import sign_in
from ui.review_view import escape
from vigil.models import Retrieval, Score, Span, Trace
from vigil.settings import load_settings
from vigil.store import partitions, regressions, review, scores, traces

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")
PAGE = "app_pages/traces.py"
NOW = datetime.now(UTC).replace(microsecond=0)


def _seed(conn: psycopg.Connection, n: int = 60) -> int:
    """``n`` support-bot traces over the last hours (t00 the newest), two of hr; t00 with
    spans, chunks, scores, a review item and a regression."""
    start = NOW - timedelta(hours=2)
    spans = [
        Span(span_id="root", kind="chain", name="answer-question", start_time=start,
             end_time=start + timedelta(milliseconds=1200)),
        Span(span_id="ret", parent_span_id="root", kind="retriever", name="search-docs",
             start_time=start + timedelta(milliseconds=10),
             end_time=start + timedelta(milliseconds=310)),
        Span(span_id="gen", parent_span_id="root", kind="llm", name="call-model",
             start_time=start + timedelta(milliseconds=320),
             end_time=start + timedelta(milliseconds=1190)),
    ]  # fmt: skip
    with conn.transaction():
        traces.insert_traces(
            conn,
            [
                Trace(
                    id=f"t{i:02d}",
                    app="support-bot",
                    start_time=start - timedelta(minutes=i),
                    input=f"question {i}",
                    output=f"answer {i}",
                    model="gpt-4o",
                    prompt_version="v2" if i % 2 else "v1",
                    segment={"route": "billing" if i % 3 else "technical"},
                    status="error" if i == 5 else "ok",
                    attributes={"customer": f"c{i}"},
                    spans=spans if i == 0 else [],
                    retrievals=[
                        Retrieval(document_id="kb-7", content="Refunds take 5 days", score=0.83)
                    ]
                    if i == 0
                    else [],
                )
                for i in range(n)
            ]
            + [Trace(id=f"hr-{i}", app="hr", start_time=start, input="leave?") for i in range(2)],
        )
        scores.upsert_scores(
            conn,
            [
                scores.ScoreRow(
                    f"t{i:02d}",
                    "groundedness",
                    "1",
                    Score.scored(0.1 if i < 3 else 0.9, f"why {i}"),
                )
                for i in range(n)
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
                window_start=start - timedelta(days=1),
                window_end=NOW,
                baseline_start=start - timedelta(days=8),
                baseline_end=start - timedelta(days=1),
                window_mean=0.5,
                baseline_mean=0.86,
                window_n=60,
                baseline_n=600,
                delta=-0.36,
                p_value=1e-6,
                q_value=1e-5,
                effect=0.36,
            ),
            run_id=None,
        )
        review.enqueue_traces(conn, regression_id=reg_id, trace_ids=["t00"], reason="low")
    return reg_id  # fmt: skip


def _open(apps: set[str] | None = None, trace: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    sign_in(at, "ana", "viewer", apps)
    at.run()
    at.switch_page(PAGE)
    if trace is not None:
        at.query_params["trace"] = trace
    at.run()
    assert not at.exception, at.exception
    return at


def _ids(at: AppTest) -> list[str]:
    return at.dataframe[0].value["id"].tolist()


def _charts(at: AppTest) -> list[tuple[dict, list[dict]]]:
    """Each Vega-Lite chart's spec and the rows of its datasets."""
    return [
        (json.loads(c.proto.spec),
         [row for d in c.proto.datasets
          for row in ipc.open_stream(d.data.data).read_all().to_pylist()])
        for c in at.get("vega_lite_chart")
    ]  # fmt: skip


def test_filters_narrow_the_table_and_pages_go_older_and_newer(conn: psycopg.Connection) -> None:
    _seed(conn)
    at = _open()
    assert at.title[0].value == "Traces"
    first = _ids(at)
    # newest first; t00 and the hr traces start together: by id, descending
    assert first == ["t00", "hr-1", "hr-0"] + [f"t{i:02d}" for i in range(1, 48)]
    assert at.button(key="traces_newer").disabled and not at.button(key="traces_older").disabled

    at.button(key="traces_older").click().run()
    assert _ids(at) == [f"t{i:02d}" for i in range(48, 60)]
    assert at.button(key="traces_older").disabled
    at.button(key="traces_newer").click().run()
    assert _ids(at) == first

    at.selectbox(key="traces_app").select("support-bot").run()
    at.selectbox(key="traces_prompt").select("v2").run()
    at.text_input(key="traces_segment").input("route=technical").run()
    assert _ids(at) == ["t03", "t09", "t15", "t21", "t27", "t33", "t39", "t45", "t51", "t57"]
    at.selectbox(key="traces_status").select("error").run()
    assert at.info[0].value == "No traces match these filters."
    at.selectbox(key="traces_status").select("any").run()
    at.text_input(key="traces_segment").input("").run()
    at.selectbox(key="traces_prompt").select("any").run()
    at.multiselect(key="traces_evaluators").select("groundedness").run()
    at.slider(key="traces_range_groundedness").set_value((0.0, 0.5)).run()
    assert _ids(at) == ["t00", "t01", "t02"]
    at.selectbox(key="traces_label").select("correct").run()
    assert at.info[0].value == "No traces match these filters."
    assert not at.exception


def test_a_trace_link_opens_its_waterfall_scores_and_regressions(conn: psycopg.Connection) -> None:
    reg_id = _seed(conn)
    at = _open(trace="t00")
    assert at.subheader[0].value == "Trace t00"
    ((spec, rows),) = _charts(at)
    nbsp = "\u00a0" * 4
    order = ["answer-question", nbsp + "search-docs", nbsp + "call-model"]  # tree order
    assert [row["span"] for row in rows] == order
    assert json.dumps(order) in json.dumps(spec)  # the rows' order on the y axis
    bars = {row["span"].strip(): (row["start_ms"], row["end_ms"], row["duration"])
            for row in rows}  # fmt: skip
    assert bars["search-docs"] == (10.0, 310.0, "300 ms")
    assert bars["call-model"] == (320.0, 1190.0, "870 ms")
    tables = [d.value for d in at.dataframe]
    chunks = next(t for t in tables if "content" in t)
    assert chunks[["document_id", "score", "content"]].values.tolist() == [
        ["kb-7", 0.83, "Refunds take 5 days"]]  # fmt: skip
    scored = next(t for t in tables if "explanation" in t)
    assert scored[["evaluator", "value", "explanation"]].values.tolist() == [
        ["groundedness", 0.1, "why 0"]]  # fmt: skip
    links = "\n".join(m.value for m in at.markdown)
    assert f"](/regressions?regression={reg_id})" in links and "queued this trace" in links
    assert '"customer"' in at.json[0].value


def test_a_trace_retention_dropped_says_so(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = datetime(2026, 9, 7, tzinfo=UTC)  # as if retention had dropped the weeks before
    monkeypatch.setattr(partitions, "kept_from", lambda _conn: {"traces": kept, "scores": None})
    _seed(conn)
    at = _open(trace="gone")
    assert at.warning[0].value == (
        r"No such trace: \'gone\'. Traces that started before 2026-09-07 were dropped by"
        " retention (`vigil retention show`)."
    )


def test_a_trace_of_an_app_not_granted_shows_nothing_of_it(conn: psycopg.Connection) -> None:
    _seed(conn)
    at = _open(apps={"hr"}, trace="t00")
    assert at.warning[0].value == r"No such trace: \'t00\'."
    assert not at.subheader and not _charts(at)
    assert _ids(at) == ["hr-1", "hr-0"]  # nor in the table
    assert at.selectbox(key="traces_app").options == ["any", "hr"]
    shown = "\n".join(m.value for m in at.markdown)
    assert "question 0" not in shown and "support-bot" not in shown

    at = _open(apps={"hr"}, trace="hr-1")  # a granted one opens
    assert at.subheader[0].value == r"Trace hr\-1"


def test_an_empty_database_says_how_to_send_traces(conn: psycopg.Connection) -> None:
    at = _open()

    settings = load_settings()
    assert at.info[0].value == (
        "No traces yet: run `vigil demo`, or point an OTLP exporter at "
        f"http://{settings.host}:{settings.otlp_port}/v1/traces (see docs/otlp.md)."
    )
    assert not at.dataframe and not at.selectbox


def test_ingested_text_is_escaped_in_markdown(conn: psycopg.Connection) -> None:
    nasty = "**x** :red[y] <b>z</b>"
    start = NOW - timedelta(hours=1)
    traces.insert_traces(conn, [Trace(id="[a](http://evil)", app="bot:1", start_time=start,
                                      model=nasty, segment={"route": nasty})])  # fmt: skip
    regressions.record(
        conn,
        regressions.Regression(
            app="bot:1", metric="score", evaluator="groundedness", evaluator_version="1",
            segment={"route": nasty}, window_start=start - timedelta(hours=1),
            window_end=NOW, baseline_start=start - timedelta(days=8),
            baseline_end=start - timedelta(days=1), window_mean=0.5, baseline_mean=0.86,
            window_n=60, baseline_n=600, delta=-0.36, p_value=1e-6, q_value=1e-5, effect=0.36,
        ),
        run_id=None,
    )  # fmt: skip
    at = _open(trace="[a](http://evil)")

    assert at.subheader[0].value == r"Trace \[a\]\(http\://evil\)"
    caption = at.caption[0].value
    assert caption.startswith(r"bot\:1 · ") and escape(f"route={nasty}") in caption
    assert f"model {escape(nasty)}" in caption
    (line,) = [m.value for m in at.markdown if "regression=" in m.value]
    assert escape(f"route={nasty}") in line and nasty not in line
    at = _open(trace="**no**")
    assert at.warning[0].value == r"No such trace: \'\*\*no\*\*\'."
