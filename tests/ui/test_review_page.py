"""The Review queue page, driven by AppTest against the real test database: claim, read,
label, relabel, next, and what a viewer may see (the golden dataset action:
test_review_golden.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from streamlit.testing.v1 import AppTest

from evaluators.base import Resources
from evaluators.groundedness import Groundedness
from tests.ui.pages import APP, WINDOW, item_row, open_review, seed
from ui.review_view import Unsupported, escape, highlighted_answer, unsupported_sentences
from vigil import auth
from vigil.models import Retrieval, Score, Trace
from vigil.store import review, scores, traces, users

PASSWORD = "correct horse battery"


def shown(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.text, *at.markdown, *at.subheader, *at.caption])


def add_trace(conn: psycopg.Connection, trace: Trace, score: Score, version: str = "1") -> None:
    """One more trace, scored by groundedness, queued as the day's audit sample."""
    with conn.transaction():
        traces.insert_traces(conn, [trace])
        row = scores.ScoreRow(trace.id, "groundedness", version, score)
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


def signed_in_through_the_form(conn: psycopg.Connection, name: str) -> AppTest:
    """The review page, signed in with the real form as ``name``, a reviewer of support-bot
    (a users row made on first use), so that every run re-reads the user."""
    if name not in {u.name for u in users.list_users(conn)}:
        with conn.transaction():
            users.add_user(conn, name, "reviewer", by="test",
                           password_hash=auth.hash_password(PASSWORD))  # fmt: skip
            users.grant(conn, name, "support-bot", by="test")
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button(key="sign_in_submit").click().run()
    at.switch_page("app_pages/review.py").run()
    assert not at.exception, at.exception
    return at


def test_a_user_disabled_or_revoked_after_the_page_loaded_cannot_act(
    conn: psycopg.Connection,
) -> None:
    """Streamlit runs a button's callback before the gate re-reads the user: every write
    callback of the page (claim, label, give back, add to golden) checks the users table."""
    seed(conn)

    def revoked_then(at: AppTest, key: str, refusal: str) -> None:
        """With the page drawn while rita may act, revoke her grant, click ``key``; then
        grant it again."""
        with conn.transaction():
            users.revoke(conn, "rita", "support-bot", by="test")
        at.button(key=key).click().run()
        assert not at.exception, at.exception
        assert refusal in at.error[0].value
        with conn.transaction():
            users.grant(conn, "rita", "support-bot", by="test")

    revoked_then(signed_in_through_the_form(conn, "rita"), "review_next", "Nothing was claimed")
    assert item_row(conn, "t0")["claimed_by"] is None

    at = signed_in_through_the_form(conn, "rita")
    at.button(key="review_next").click().run()
    assert item_row(conn, "t0")["claimed_by"] == "rita"
    for key in ("review_label_hallucinated", "review_release"):
        revoked_then(signed_in_through_the_form(conn, "rita"), key, "support\\-bot")
    row = item_row(conn, "t0")
    assert (row["status"], row["claimed_by"]) == ("pending", "rita")
    assert review.label_history(conn, row["id"]) == []

    at = signed_in_through_the_form(conn, "rita")  # resumes t0
    at.button(key="review_label_correct").click().run()  # labeled: golden is a write now
    assert item_row(conn, "t0")["reviewer"] == "rita"
    revoked_then(at, "review_golden", "You may not add items of support\\-bot")
    assert conn.execute("SELECT count(*) AS n FROM reviewed_examples").fetchone() == {"n": 0}
    assert conn.execute("SELECT count(*) AS n FROM dataset_versions").fetchone() == {"n": 0}

    at = signed_in_through_the_form(conn, "rita")
    at.button(key="review_next").click().run()
    assert item_row(conn, "t1")["claimed_by"] == "rita"
    with conn.transaction():
        users.set_disabled(conn, "rita", True, by="test")
    at.button(key="review_label_unsafe").click().run()
    assert not at.exception, at.exception
    assert item_row(conn, "t1")["status"] == "pending"
    assert review.label_history(conn, item_row(conn, "t1")["id"]) == []
    assert [t.value for t in at.title] == ["Sign in to Vigil"]  # signed out, nothing shown


def test_a_stale_screen_does_not_overwrite_a_label_set_meanwhile(conn: psycopg.Connection) -> None:
    """ana claims t0 and walks away; her lease runs out, bob claims and labels it; ana's
    screen still shows it unlabeled, and her click is refused instead of replacing bob's."""
    seed(conn)
    at = open_review()
    at.button(key="review_next").click().run()
    t0 = item_row(conn, "t0")["id"]
    conn.execute(
        "UPDATE review_items SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
        (t0,),
    )
    assert review.claim_next(conn, "bob", None) is not None
    review.label(conn, t0, reviewer="bob", label="correct", seen_label=None)

    at.button(key="review_label_hallucinated").click().run()
    assert not at.exception, at.exception
    message = at.error[0].value
    assert f"Item #{t0}" in message and "bob labeled this item meanwhile" in message
    assert "reopen it to relabel" in message
    assert (item_row(conn, "t0")["label"], item_row(conn, "t0")["reviewer"]) == ("correct", "bob")
    assert "How do I get refund number 0?" not in shown(at)  # off the screen until reopened

    at.toggle(key="review_show_labeled").set_value(True).run()
    at.selectbox(key="review_open").set_value(t0)
    at.button(key="review_open_button").click().run()
    assert "Labeled 'correct' by bob" in shown(at)
    at.button(key="review_label_hallucinated").click().run()  # a deliberate relabel
    assert "relabeled 'hallucinated' by ana" in at.success[0].value
    assert [(h["reviewer"], h["label"]) for h in review.label_history(conn, t0)] == [
        ("bob", "correct"), ("ana", "hallucinated"),
    ]  # fmt: skip


def test_ingested_text_is_escaped_in_markdown(conn: psycopg.Connection) -> None:
    seed(conn)
    trace_id = "x_[*click*](http://evil)`:red[y]`"
    chunk = Retrieval(document_id="**doc**_<b>", content="c", score=0.5)
    day = WINDOW[0] - timedelta(days=3)  # alone on its day: the one audit item
    trace = Trace(id=trace_id, app="support-bot", start_time=day, input="q", output="a",
                  retrievals=[chunk])  # fmt: skip
    add_trace(conn, trace, Score.scored(0.9, "fine"))
    at = open_review()
    at.radio(key="review_f_kind").set_value("Audit sample").run()
    at.button(key="review_next").click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value.endswith(rf" · support\-bot · {escape(trace_id)}")
    assert f"#0 {escape('**doc**_<b>')} · retrieval score 0.500" in [e.label for e in at.expander]

    at.radio(key="review_f_kind").set_value("Regressions").run()
    at.button(key="review_next").click().run()
    headline = "score of groundedness worse by 0.360 (0.86 -> 0.5)"
    assert any(escape(headline) in c.value for c in at.caption)


def test_an_empty_queue_says_where_items_come_from(conn: psycopg.Connection) -> None:
    at = open_review()
    message = at.info[0].value
    assert message.startswith("Nothing to review")
    assert "VIGIL_REVIEW_AUDIT_PER_DAY" in message and "`vigil demo`" in message

    seed(conn)
    at = open_review("bob", "reviewer", set())
    assert "granted no app" in at.info[0].value
