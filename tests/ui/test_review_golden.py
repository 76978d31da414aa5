"""The Review queue's "Add to golden dataset": the labeled trace becomes an item of a
dataset version, named in the sidebar, idempotently."""

from __future__ import annotations

from tests.ui.pages import open_review, seed
from vigil.db.types import Conn
from vigil.store import datasets


def test_adding_to_the_golden_dataset_is_idempotent(conn: Conn) -> None:
    seed(conn)
    at = open_review()
    assert at.text_input(key="golden_dataset").value == "reviewed"
    at.button(key="review_next").click().run()
    at.button(key="review_golden").click().run()
    assert "Label item" in at.error[0].value  # nothing to vouch for yet

    at.button(key="review_label_correct").click().run()
    at.button(key="review_golden").click().run()
    assert at.success[0].value == "Trace t0 added to golden dataset reviewed@1."
    at.button(key="review_golden").click().run()
    assert at.info[0].value == "Trace t0 is already in reviewed@1 (unchanged)."

    examples = conn.execute("SELECT trace_id, answer, added_by FROM reviewed_examples").fetchall()
    assert examples == [{"trace_id": "t0", "answer": "Refund answer 0.", "added_by": "ana"}]
    version = datasets.resolve(conn, "reviewed")
    assert (version.version, version.items) == (1, 1)
    (item,) = datasets.items(conn, version.id)
    assert (item.id, item.input, item.reference) == (
        "trace-t0", "How do I get refund number 0?", "Refund answer 0.",
    )  # fmt: skip
    assert item.contexts == ["Refund policy 0"] and item.metadata["app"] == "support-bot"
    assert item.source is not None and (item.source.trace_id, item.source.reviewer) == ("t0", "ana")
    assert datasets.versions(conn, "reviewed")[0]["created_by"] == "ana"


def test_the_golden_dataset_is_named_in_the_sidebar(conn: Conn) -> None:
    seed(conn)
    at = open_review()
    at.button(key="review_next").click().run()
    at.text_area(key="review_corrected").input("Refunds take 14 days.")
    at.button(key="review_label_hallucinated").click().run()

    at.text_input(key="golden_dataset").input("bad name!").run()
    assert "Not a dataset name" in at.sidebar.error[0].value
    at.button(key="review_golden").click().run()
    assert "is not a dataset name" in at.error[0].value and "Nothing was saved" in at.error[0].value
    assert datasets.listing(conn) == []
    assert conn.execute("SELECT count(*) AS n FROM reviewed_examples").fetchone() == {"n": 0}

    at.text_input(key="golden_dataset").input("support-golden").run()
    at.button(key="review_golden").click().run()
    assert at.success[0].value == "Trace t0 added to golden dataset support\\-golden@1."
    (item,) = datasets.items(conn, datasets.resolve(conn, "support-golden").id)
    assert item.reference == "Refunds take 14 days." and item.source is not None
    assert item.source.corrected

    at.text_input(key="golden_dataset").input("elsewhere").run()
    at.selectbox(key="golden_dataset_pick").select("support-golden").run()
    assert at.text_input(key="golden_dataset").value == "support-golden"
    at.text_area(key="review_corrected").input("Refunds take two weeks.")
    at.button(key="review_label_hallucinated").click().run()  # a relabel: a new reference
    at.button(key="review_golden").click().run()
    assert at.success[0].value == (
        "Trace t0 updated in golden dataset support\\-golden@2 (its review changed)."
    )
    (item,) = datasets.items(conn, datasets.resolve(conn, "support-golden@2").id)
    assert item.reference == "Refunds take two weeks."
