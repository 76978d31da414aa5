"""The Review queue page, driven by AppTest against the real test database: claim, read,
label, relabel, next, the golden dataset, and what a viewer may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from streamlit.testing.v1 import AppTest

from evaluators.base import Resources
from evaluators.groundedness import Groundedness
from tests.ui.pages import APP, WINDOW, item_row, seed
from tests.ui.signin import sign_in
from ui.access import Role
from ui.review_view import Unsupported, highlighted_answer, unsupported_sentences
from vigil.models import Retrieval, Score, Trace
from vigil.store import review, scores, traces


def open_review(name: str = "ana", role: Role = "admin", apps: set[str] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    sign_in(at, name, role, apps)
    at.run()
    at.switch_page("app_pages/review.py").run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.text, *at.markdown, *at.subheader, *at.caption])


def add_trace(conn: psycopg.Connection, trace: Trace, score: Score, version: str = "1") -> None:
    """One more trace, scored by groundedness, queued as the day's audit sample."""
    with conn.transaction():
        traces.insert_traces(conn, [trace])
        row = scores.ScoreRow(trace.id, trace.app, trace.start_time, "groundedness", version, score)
        scores.upsert_scores(conn, [row], run_id=None)
        review.enqueue_audit(conn, trace.start_time.date(), 5, trace.app)


def test_claim_label_and_next_end_to_end(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_review()
    assert at.dataframe[0].value["trace_id"].tolist() == ["t0", "t1"]  # worst score first

    at.button(key="review_next").click().run()
    assert not at.exception, at.exception
    assert item_row(conn, "t0")["claimed_by"] == "ana"
    text = shown(at)
    assert "How do I get refund number 0?" in text and "Refund policy 0" in text
    assert "Refund answer 0." in text
    assert at.dataframe[0].value["explanation"].tolist() == ["why 0"]

    at.text_area(key="review_note").input("cites a policy that does not exist")
    at.text_area(key="review_corrected").input("Refunds take 14 days.")
    at.button(key="review_label_hallucinated").click().run()
    assert not at.exception, at.exception
    assert "labeled 'hallucinated' by ana" in at.success[0].value
    row = item_row(conn, "t0")
    assert (row["status"], row["label"], row["reviewer"], row["note"], row["claimed_by"]) == (
        "labeled", "hallucinated", "ana", "cites a policy that does not exist", None,
    )  # fmt: skip
    assert row["corrected_answer"] == "Refunds take 14 days."
    history = at.dataframe[1].value
    assert history[["reviewer", "label"]].values.tolist() == [["ana", "hallucinated"]]

    at.button(key="review_next").click().run()
    assert "How do I get refund number 1?" in shown(at)
    assert item_row(conn, "t1")["claimed_by"] == "ana"
    assert at.text_area(key="review_note").value == ""  # ready for the next item

    at.button(key="review_next").click().run()  # passes over t1: nothing else is left
    assert "Nothing left to claim" in at.info[0].value
    assert item_row(conn, "t1")["claimed_by"] is None  # given back, not kept
    assert at.dataframe[0].value["trace_id"].tolist() == ["t1"]


def test_a_relabel_on_the_page_keeps_the_history(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_review()
    at.button(key="review_next").click().run()
    at.button(key="review_label_hallucinated").click().run()
    at.text_area(key="review_note").input("second look: the policy says so")
    at.button(key="review_label_correct").click().run()

    assert not at.exception, at.exception
    assert "relabeled 'correct' by ana" in at.success[0].value
    history = at.dataframe[1].value
    assert history[["label", "note"]].fillna("").values.tolist() == [
        ["hallucinated", ""], ["correct", "second look: the policy says so"],
    ]  # fmt: skip
    assert item_row(conn, "t0")["label"] == "correct"


def test_the_unsupported_sentence_is_highlighted_with_its_context(
    conn: psycopg.Connection, provider: object
) -> None:
    trace = Trace(
        id="g1",
        app="support-bot",
        start_time=WINDOW[0] + timedelta(hours=1),
        input="How long do refunds take?",
        output="Refunds are paid within 14 days. The moon is made of *green* cheese!",
        retrievals=[
            Retrieval(document_id="policy", score=0.91,
                      content="Refunds are paid within 14 days of the return. Shipping is free.")
        ],
    )  # fmt: skip
    evaluator = Groundedness(Resources(provider))
    (score,) = evaluator.evaluate([trace])
    add_trace(conn, trace, score, evaluator.version)

    at = open_review()
    at.button(key="review_next").click().run()
    assert not at.exception, at.exception
    markdown = [str(m.value) for m in at.markdown]
    answer = next(m for m in markdown if ":red-background[" in m)
    assert ":red-background[The moon is made of \\*green\\* cheese\\!] **\\[1\\]**" in answer
    assert answer.startswith("Refunds are paid within 14 days\\. ")  # supported: not marked
    assert "> matched context: Refunds are paid within 14 days of the return" in markdown
    assert any("not in the context: moon" in m for m in markdown)
    assert "policy · retrieval score 0.910" in " ".join(e.label for e in at.expander)


def test_a_reviewer_not_granted_an_app_never_sees_or_claims_its_items(
    conn: psycopg.Connection,
) -> None:
    seed(conn)
    hidden = Trace(id="h0", app="hr-bot", start_time=WINDOW[0] + timedelta(hours=2),
                   input="secret question", output="secret answer")  # fmt: skip
    add_trace(conn, hidden, Score.scored(0.01, "worst of all"))
    at = open_review("bob", "reviewer", {"support-bot"})

    assert at.dataframe[0].value["trace_id"].tolist() == ["t0", "t1"]
    assert at.selectbox(key="review_f_app").options == ["Any app", "support-bot"]
    for _ in range(3):
        at.button(key="review_next").click().run()
        assert "secret" not in shown(at)
    assert item_row(conn, "h0")["claimed_by"] is None


def test_a_viewer_reads_the_queue_but_cannot_claim(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_review("vic", "viewer", {"support-bot"})
    assert at.dataframe[0].value["trace_id"].tolist() == ["t0", "t1"]
    assert at.button(key="review_next").disabled


def test_an_item_another_reviewer_holds_is_not_handed_out(conn: psycopg.Connection) -> None:
    seed(conn)
    review.claim_next(conn, "ana", None)  # ana holds t0
    at = open_review("bob", "reviewer", {"support-bot"})
    at.button(key="review_next").click().run()
    assert "How do I get refund number 1?" in shown(at)
    assert (item_row(conn, "t0")["claimed_by"], item_row(conn, "t1")["claimed_by"]) == (
        "ana", "bob",
    )  # fmt: skip

    resumed = open_review("ana")  # a new session resumes ana's claim
    assert "How do I get refund number 0?" in shown(resumed)


def test_filters_choose_what_is_claimed(conn: psycopg.Connection) -> None:
    seed(conn)
    add_trace(conn, Trace(id="a1", app="support-bot", start_time=datetime.now(UTC),
                          input="audit question", output="audit answer"),
              Score.scored(0.9, "fine"))  # fmt: skip
    at = open_review()
    assert at.dataframe[0].value["trace_id"].tolist() == ["t0", "t1", "a1"]
    at.radio(key="review_f_kind").set_value("Audit sample").run()
    assert at.dataframe[0].value["trace_id"].tolist() == ["a1"]
    at.button(key="review_next").click().run()
    assert "audit question" in shown(at)


def test_adding_to_the_golden_dataset_is_idempotent(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_review()
    at.button(key="review_next").click().run()
    at.button(key="review_golden").click().run()
    assert "Label item" in at.error[0].value  # nothing to vouch for yet

    at.button(key="review_label_correct").click().run()
    at.button(key="review_golden").click().run()
    assert "added to the golden dataset" in at.success[0].value
    at.button(key="review_golden").click().run()
    assert "already in the golden dataset" in at.info[0].value

    examples = conn.execute("SELECT trace_id, answer, added_by FROM reviewed_examples").fetchall()
    assert examples == [{"trace_id": "t0", "answer": "Refund answer 0.", "added_by": "ana"}]


def test_highlighting_escapes_the_answer_and_skips_sentences_it_cannot_find() -> None:
    flagged = [
        Unsupported("Call [support](http://x) at $5:00.", 0.1, "", ["support"]),
        Unsupported("a sentence the answer does not hold", 0.0, "", []),
    ]
    answer = "Fine.\nCall [support](http://x) at $5:00. Bye."
    assert highlighted_answer(answer, flagged) == (
        "Fine\\.  \n:red-background[Call \\[support\\]\\(http\\://x\\) at \\$5\\:00\\.]"
        " **\\[1\\]** Bye\\."
    )
    details = {"sentences": [{"sentence": "ok", "score": 0.9}, {"sentence": "bad", "score": 0.2}]}
    assert [u.sentence for u in unsupported_sentences(details)] == ["bad"]
    assert unsupported_sentences({}) == [] and unsupported_sentences(None) == []


def test_a_labeled_item_opens_again_from_the_labeled_list(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_review()
    at.button(key="review_next").click().run()
    at.button(key="review_label_irrelevant").click().run()
    at.button(key="review_next").click().run()  # now on t1
    at.toggle(key="review_show_labeled").set_value(True).run()
    at.selectbox(key="review_open").set_value(item_row(conn, "t0")["id"])
    at.button(key="review_open_button").click().run()
    assert "How do I get refund number 0?" in shown(at)
    at.button(key="review_label_unsafe").click().run()
    assert [h["label"] for h in review.label_history(conn, item_row(conn, "t0")["id"])] == [
        "irrelevant", "unsafe",
    ]  # fmt: skip
    assert item_row(conn, "t1")["claimed_by"] == "ana"  # opening t0 did not give t1 back
    at.button(key="review_next").click().run()
    assert "How do I get refund number 1?" in shown(at)  # ana's own claim comes back to her
