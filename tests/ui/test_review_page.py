"""The Review queue page, driven by AppTest against the real test database."""

from __future__ import annotations

import psycopg

from tests.ui.pages import item_row, open_page, seed
from vigil.store import review


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
