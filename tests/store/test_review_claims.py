"""The review queue as a workflow: claims and leases, labels and their history, filters,
reviewed examples. Against the real test database."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from vigil.db import connect
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.models import Retrieval, Score, Trace
from vigil.store import regressions, review, scores, traces

DAY = datetime(2026, 11, 2, tzinfo=UTC)


def _trace(trace_id: str, app: str, hour: int) -> Trace:
    return Trace(
        id=trace_id,
        app=app,
        start_time=DAY + timedelta(hours=hour),
        input=f"question of {trace_id}",
        output=f"answer of {trace_id}",
        retrievals=[Retrieval(document_id=f"doc-{trace_id}", content="a chunk", score=0.8)],
    )


def _regression(conn: Conn, app: str) -> int:
    return regressions.record(
        conn,
        regressions.Regression(
            app=app, metric="score", evaluator="groundedness", evaluator_version="1",
            segment={}, window_start=DAY, window_end=DAY + timedelta(days=1),
            baseline_start=DAY - timedelta(days=7), baseline_end=DAY, window_mean=0.4,
            baseline_mean=0.8, window_n=40, baseline_n=80, delta=-0.4, p_value=1e-6,
            q_value=1e-5, effect=0.4, headline=f"groundedness of {app} worse",
            attribution=[], evidence={},
        ),
        run_id=None,
    )  # fmt: skip


def seed(conn: Conn) -> dict[str, int]:
    """support-bot: regression items b0 (0.1), b1 (0.3), b2 (0.5) and an audit item b3;
    hr-bot: a regression item h0 (0.05, the worst of all). Returns item ids by trace."""
    with conn.transaction():
        rows = [_trace(f"b{i}", "support-bot", i) for i in range(4)]
        traces.insert_traces(conn, [*rows, _trace("h0", "hr-bot", 5)])
        values = {"b0": 0.1, "b1": 0.3, "b2": 0.5, "b3": 0.9, "h0": 0.05}
        scores.upsert_scores(
            conn,
            [
                scores.ScoreRow(t,
                                "groundedness", "1", Score.scored(v, f"why {t}"))
                for t, v in values.items()
            ],
            run_id=None,
        )  # fmt: skip
        for app, ids in (("support-bot", ["b2", "b0", "b1"]), ("hr-bot", ["h0"])):
            review.enqueue_traces(
                conn, regression_id=_regression(conn, app), trace_ids=ids, reason="low",
                evaluator="groundedness", evaluator_version="1",
            )  # fmt: skip
        conn.execute(
            "INSERT INTO review_items (trace_id, reason, audit_day) VALUES ('b3', 'audit', %s)",
            (date(2026, 11, 2),),
        )
    return {r["trace_id"]: r["id"] for r in conn.execute("SELECT id, trace_id FROM review_items")}


def test_claims_follow_priority_and_never_hand_out_a_held_item(conn: Conn) -> None:
    seed(conn)
    got = [review.claim_next(conn, f"r{n}", ["support-bot"]) for n in range(5)]
    assert [g and g["trace_id"] for g in got] == ["b0", "b1", "b2", "b3", None]
    assert got[0] is not None and got[0]["claimed_by"] == "r0" and got[0]["app"] == "support-bot"


def test_two_reviewers_claiming_at_once_get_different_items(db_url: str, conn: Conn) -> None:
    seed(conn)
    with connect(db_url) as first, connect(db_url) as second:
        with first.transaction():  # the first claim is held, uncommitted, while the second runs
            mine = review.claim_next(first, "ana", None)
            theirs = review.claim_next(second, "bob", None)
            second.commit()
        assert mine is not None and theirs is not None
        assert (mine["trace_id"], theirs["trace_id"]) == ("h0", "b0")


def test_concurrent_claims_from_threads_are_all_distinct(db_url: str, conn: Conn) -> None:
    ids = seed(conn)
    claimed: list[int | None] = []
    start = threading.Barrier(5)

    def claim(name: str) -> None:
        with connect(db_url, autocommit=True) as own:
            start.wait()
            row = review.claim_next(own, name, None)
            claimed.append(None if row is None else row["id"])

    threads = [threading.Thread(target=claim, args=(f"r{n}",)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i for i in claimed if i is not None) == sorted(ids.values())
    holders = conn.execute("SELECT count(DISTINCT claimed_by) AS n FROM review_items").fetchone()
    assert holders == {"n": 5}


def test_an_expired_lease_is_claimable_and_a_live_one_is_not(conn: Conn) -> None:
    ids = seed(conn)
    held = review.claim_next(conn, "ana", ["hr-bot"])
    assert held is not None and held["id"] == ids["h0"]
    assert review.claim_next(conn, "bob", ["hr-bot"]) is None
    conn.execute(
        "UPDATE review_items SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
        (ids["h0"],),
    )
    assert review.current_claim(conn, "ana", None) is None
    taken = review.claim_next(conn, "bob", ["hr-bot"], lease=timedelta(minutes=5))
    assert taken is not None and (taken["id"], taken["claimed_by"]) == (ids["h0"], "bob")
    assert taken["lease_expires_at"] - taken["claimed_at"] == timedelta(minutes=5)


def test_release_gives_the_item_back_and_skip_passes_over_it(conn: Conn) -> None:
    ids = seed(conn)
    first = review.claim_next(conn, "ana", ["support-bot"])
    assert first is not None and first["id"] == ids["b0"]
    assert review.current_claim(conn, "ana", None) == {**first}
    assert not review.release(conn, ids["b0"], "bob")  # not bob's to give back
    assert review.release(conn, ids["b0"], "ana")
    again = review.claim_next(conn, "ana", ["support-bot"], skip=[ids["b0"]])
    assert again is not None and again["id"] == ids["b1"]
    assert [e["action"] for e in review.item_events(conn, ids["b0"])] == ["release"]


def test_a_reviewer_not_granted_an_app_never_sees_or_claims_its_items(conn: Conn) -> None:
    ids = seed(conn)
    assert {r["app"] for r in review.list_items(conn, apps=["support-bot"])} == {"support-bot"}
    assert review.item(conn, ids["h0"], ["support-bot"]) is None
    assert review.item(conn, ids["h0"], None) is not None
    assert review.filter_choices(conn, ["support-bot"])["apps"] == ["support-bot"]
    claimed = [review.claim_next(conn, "ana", ["support-bot"]) for _ in range(5)]
    assert ids["h0"] not in {c["id"] for c in claimed if c}
    assert review.claim_next(conn, "ana", []) is None  # granted nothing: claims nothing


def test_filters_narrow_what_is_claimed(conn: Conn) -> None:
    ids = seed(conn)
    audit = review.claim_next(conn, "ana", None, review.Filters(audit=True))
    assert audit is not None and audit["id"] == ids["b3"]
    app = review.claim_next(conn, "ana", None, review.Filters(app="support-bot", audit=False))
    assert app is not None and app["id"] == ids["b0"]
    hr = conn.execute("SELECT id FROM regressions WHERE app = 'hr-bot'").fetchone()
    assert hr is not None
    by_regression = review.Filters(regression_id=hr["id"])
    assert [r["trace_id"] for r in review.list_items(conn, filters=by_regression)] == ["h0"]
    nothing = review.Filters(evaluator="answer_relevance")
    assert review.claim_next(conn, "ana", None, nothing) is None


def test_a_relabel_keeps_the_history(conn: Conn) -> None:
    ids = seed(conn)
    review.claim_next(conn, "ana", ["hr-bot"])
    first = review.label(conn, ids["h0"], reviewer="ana", label="hallucinated", note="made up",
                         seen_label=None)  # fmt: skip
    review.label(conn, ids["h0"], reviewer="bob", label="correct", note="it is in the policy",
                 corrected_answer="answer, with the source", seen_label=first["id"])  # fmt: skip
    history = review.label_history(conn, ids["h0"])
    assert [(h["reviewer"], h["label"], h["note"], h["corrected_answer"]) for h in history] == [
        ("ana", "hallucinated", "made up", None),
        ("bob", "correct", "it is in the policy", "answer, with the source"),
    ]
    row = review.item(conn, ids["h0"], None)
    assert row is not None
    assert (row["status"], row["label"], row["reviewer"], row["claimed_by"]) == (
        "labeled", "correct", "bob", None,
    )  # fmt: skip
    assert [e["action"] for e in review.item_events(conn, ids["h0"])] == ["label", "relabel"]


def test_labeling_an_item_someone_else_holds_is_refused(conn: Conn) -> None:
    ids = seed(conn)
    review.claim_next(conn, "ana", ["hr-bot"])
    with pytest.raises(VigilError, match="claimed by ana"):
        review.label(conn, ids["h0"], reviewer="bob", label="correct", seen_label=None)
    with pytest.raises(VigilError, match="Unknown label 'bad_retrieval'"):
        review.label(conn, ids["h0"], reviewer="ana", label="bad_retrieval", seen_label=None)
    assert review.label_history(conn, ids["h0"]) == []
    assert review.item(conn, ids["h0"], None)["status"] == "pending"  # type: ignore[index]


def test_a_stale_screen_does_not_overwrite_a_label_set_meanwhile(conn: Conn) -> None:
    """ana claims, her lease runs out, bob claims and labels: ana's screen, which showed the
    item unlabeled, cannot overwrite bob's label; reopened, it relabels (history kept)."""
    ids = seed(conn)
    assert review.claim_next(conn, "ana", ["hr-bot"]) is not None
    conn.execute(
        "UPDATE review_items SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
        (ids["h0"],),
    )
    assert review.claim_next(conn, "bob", ["hr-bot"]) is not None
    bobs = review.label(conn, ids["h0"], reviewer="bob", label="correct", seen_label=None)

    meanwhile = r"bob labeled this item meanwhile \('correct'\); reopen it to relabel"
    with pytest.raises(review.LabeledMeanwhile, match=meanwhile):
        review.label(conn, ids["h0"], reviewer="ana", label="hallucinated", seen_label=None)
    row = review.item(conn, ids["h0"], None)
    assert row is not None and (row["label"], row["reviewer"]) == ("correct", "bob")
    assert [h["reviewer"] for h in review.label_history(conn, ids["h0"])] == ["bob"]

    assert row["label_id"] == bobs["id"]  # what a reopened screen shows, and passes back
    review.label(conn, ids["h0"], reviewer="ana", label="hallucinated", seen_label=bobs["id"])
    assert [(h["reviewer"], h["label"]) for h in review.label_history(conn, ids["h0"])] == [
        ("bob", "correct"), ("ana", "hallucinated"),
    ]  # fmt: skip
    assert [e["action"] for e in review.item_events(conn, ids["h0"])] == ["label", "relabel"]

    with pytest.raises(review.LabeledMeanwhile, match="ana labeled this item meanwhile"):
        review.label(conn, ids["h0"], reviewer="bob", label="other", seen_label=bobs["id"])
    # One's own later label (another tab) is no one else's: it may be relabeled.
    review.label(conn, ids["h0"], reviewer="ana", label="unsafe", seen_label=bobs["id"])
    assert review.item(conn, ids["h0"], None)["label"] == "unsafe"  # type: ignore[index]


def test_adding_to_the_golden_dataset_is_idempotent(conn: Conn) -> None:
    ids = seed(conn)
    with pytest.raises(VigilError, match="Label item"):
        review.add_reviewed_example(conn, ids["b0"], added_by="ana")
    first = review.label(conn, ids["b0"], reviewer="ana", label="hallucinated", seen_label=None)
    with pytest.raises(VigilError, match="give a corrected answer"):
        review.add_reviewed_example(conn, ids["b0"], added_by="ana")
    review.label(conn, ids["b0"], reviewer="ana", label="hallucinated",
                 corrected_answer="the right answer", seen_label=first["id"])  # fmt: skip
    assert review.add_reviewed_example(conn, ids["b0"], added_by="ana")
    assert not review.add_reviewed_example(conn, ids["b0"], added_by="bob")
    example = review.reviewed_example(conn, "b0")
    assert example is not None
    assert (example["app"], example["question"], example["answer"], example["corrected"]) == (
        "support-bot", "question of b0", "the right answer", True,
    )  # fmt: skip
    assert (example["label"], example["added_by"], example["dataset"]) == (
        "hallucinated", "ana", "reviewed",
    )  # fmt: skip
    assert example["contexts"] == [
        {"document_id": "doc-b0", "content": "a chunk", "rank": 0, "score": 0.8}
    ]
    count = conn.execute("SELECT count(*) AS n FROM reviewed_examples").fetchone()
    assert count == {"n": 1}


def test_a_correct_answer_becomes_the_reference_as_it_is(conn: Conn) -> None:
    ids = seed(conn)
    review.label(conn, ids["b1"], reviewer="ana", label="correct", seen_label=None)
    assert review.add_reviewed_example(conn, ids["b1"], added_by="ana")
    example = review.reviewed_example(conn, "b1")
    assert example is not None and (example["answer"], example["corrected"]) == (
        "answer of b1", False,
    )  # fmt: skip
