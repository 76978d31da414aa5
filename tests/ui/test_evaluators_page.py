"""The Evaluators page (judge versus people), driven by AppTest against the test database."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import psycopg
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from tests.ui.pages import WINDOW_END, open_page
from ui.access import Viewer
from vigil.models import Score, Trace
from vigil.store import scores, traces

PAGE = "app_pages/evaluators.py"


def labelled(conn: psycopg.Connection, app: str, evaluator: str, rows: list[tuple[float, str]],
             weeks_ago: int, prefix: str, audit: bool = True) -> None:  # fmt: skip
    """One trace per (score, label), ``weeks_ago`` weeks back, scored and labelled."""
    when = WINDOW_END - timedelta(weeks=weeks_ago, hours=12)
    ids = [f"{prefix}{i}" for i in range(len(rows))]
    traces.insert_traces(conn, [Trace(id=i, app=app, start_time=when) for i in ids])
    scores.upsert_scores(
        conn,
        [scores.ScoreRow(i, evaluator, "1", Score.scored(v))
         for i, (v, _) in zip(ids, rows, strict=True)],
        run_id=None,
    )  # fmt: skip
    for i, (_, label) in zip(ids, rows, strict=True):
        conn.execute(
            "INSERT INTO review_items (trace_id, reason, status, label, reviewer, labeled_at,"
            " audit_day) VALUES (%s, 'audit', 'labeled', %s, 'ana', now(), %s)",
            (i, label, when.date() if audit else None),
        )


def kappa_by_week(at: AppTest) -> pd.DataFrame:
    chart = at.get("vega_lite_chart")[0].proto
    points = pa.ipc.open_stream(chart.datasets[0].data.data).read_pandas()
    return points[points["measure"] == "kappa"].sort_values("week")


def test_evaluators_page_without_labels_says_where_labels_come_from(
    conn: psycopg.Connection,
) -> None:
    at = open_page(PAGE)

    assert at.title[0].value == "Evaluators"
    hint = at.info[0].value
    assert hint.startswith("No labels yet")
    assert "label items in the Review queue; the daily audit sample feeds this page" in hint
    assert not at.dataframe


def test_agreement_suggestion_and_a_falling_kappa(conn: psycopg.Connection) -> None:
    # Two weeks ago the evaluator and the reviewers agreed on every trace; last week on half.
    agree = [(0.1, "hallucinated"), (0.9, "correct")] * 10
    half = [(0.1, "hallucinated"), (0.9, "correct"), (0.9, "hallucinated"), (0.1, "correct")] * 5
    labelled(conn, "support-bot", "groundedness", agree, weeks_ago=2, prefix="a")
    labelled(conn, "support-bot", "groundedness", half, weeks_ago=1, prefix="b")
    labelled(conn, "support-bot", "pii_leak", [(0.2, "unsafe"), (0.8, "correct")], 1, "c")
    at = open_page(PAGE)

    table = at.dataframe[0].value.set_index("evaluator")
    grounded = table.loc["groundedness 1"]
    assert (grounded["labels"], grounded["bad"]) == (40, 20)
    # TP 15, FP 5, FN 5, TN 15: precision and recall 0.75; kappa (0.75 - 0.5) / 0.5
    assert (grounded["precision"], grounded["recall"], grounded["kappa"]) == (
        "0.75",
        "0.75",
        "0.50",
    )
    assert (grounded["suggested threshold"], grounded["rests on"]) == ("0.90", 40)
    few = table.loc["pii_leak 1"]
    assert few["suggested threshold"].startswith("none (2 labelled scores; at least 30")
    kappa = kappa_by_week(at)
    grounded_kappa = kappa[kappa["evaluator"] == "groundedness 1"]["value"].tolist()
    assert grounded_kappa == [1.0, 0.0]  # the falling line


def test_labels_say_nothing_are_left_out_and_apps_are_filtered(conn: psycopg.Connection) -> None:
    labelled(conn, "support-bot", "groundedness", [(0.1, "hallucinated"), (0.9, "correct"),
                                                   (0.5, "other")], 1, "a")  # fmt: skip
    labelled(conn, "search-bot", "answer_relevance", [(0.1, "irrelevant"), (0.9, "correct")], 1,
             "s")  # fmt: skip
    at = open_page(PAGE, Viewer("bo", "viewer", frozenset({"support-bot"})))

    table = at.dataframe[0].value
    assert table["evaluator"].tolist() == ["groundedness 1"]
    assert table["labels"].tolist() == [2]  # "other" says nothing about groundedness


def test_audit_only_leaves_out_the_regressions_items(conn: psycopg.Connection) -> None:
    labelled(conn, "support-bot", "groundedness", [(0.1, "hallucinated")], 1, "a")
    labelled(conn, "support-bot", "groundedness", [(0.2, "hallucinated"), (0.9, "correct")], 1,
             "r", audit=False)  # fmt: skip
    at = open_page(PAGE)
    assert at.dataframe[0].value["labels"].tolist() == [3]

    at.toggle(key="evaluators_audit").set_value(True).run()
    assert at.dataframe[0].value["labels"].tolist() == [1]


def test_each_evaluator_counts_only_the_labels_about_what_it_judges(
    conn: psycopg.Connection,
) -> None:
    rows = [(0.1, "unsafe"), (0.2, "hallucinated"), (0.3, "irrelevant"), (0.4, "bad_retrieval"),
            (0.9, "correct"), (0.5, "other")]  # fmt: skip
    for evaluator, prefix in [("pii_leak", "p"), ("groundedness", "g"),
                              ("answer_relevance", "a"), ("context_relevance", "c"),
                              ("bleu", "b")]:  # fmt: skip
        labelled(conn, "support-bot", evaluator, rows, 1, prefix)
    at = open_page(PAGE)

    table = at.dataframe[0].value.set_index("evaluator")
    counts = {name: (row["labels"], row["bad"]) for name, row in table.iterrows()}
    assert counts == {
        "answer_relevance 1": (2, 1),  # irrelevant; correct
        "context_relevance 1": (3, 2),  # irrelevant, bad_retrieval; correct
        "groundedness 1": (2, 1),  # hallucinated; correct
        "pii_leak 1": (2, 1),  # unsafe; correct
    }  # bleu: no label speaks to it


def test_no_label_about_any_evaluator_shown(conn: psycopg.Connection) -> None:
    labelled(conn, "support-bot", "bleu", [(0.1, "hallucinated"), (0.9, "correct")], 1, "b")
    at = open_page(PAGE)

    assert at.info[0].value.startswith("No label yet says anything")
    assert not at.dataframe


def test_cached_labels_are_not_shared_between_viewers_of_other_apps(
    conn: psycopg.Connection,
) -> None:
    labelled(conn, "support-bot", "groundedness", [(0.1, "hallucinated"), (0.9, "correct")], 1,
             "a")  # fmt: skip
    labelled(conn, "search-bot", "answer_relevance", [(0.1, "irrelevant"), (0.9, "correct")], 1,
             "s")  # fmt: skip
    everything = open_page(PAGE)  # an admin first: every app's labels, now cached
    assert len(everything.dataframe[0].value) == 2

    at = open_page(PAGE, Viewer("bo", "viewer", frozenset({"search-bot"})))
    assert at.dataframe[0].value["evaluator"].tolist() == ["answer_relevance 1"]
