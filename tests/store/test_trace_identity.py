"""A trace is one row whatever its partition: two writers that store the same new trace at
once, with starts in different weeks, make one trace (``trace_ids`` arbitrates); and a
score keys on the trace's partition, which never changes, so a retry after re-assembly moved
the trace's start across a week still replaces the error in place."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from vigil.db import connect
from vigil.db.types import Conn
from vigil.ingest.spans import store_spans
from vigil.models import MappedSpan, Score
from vigil.store import partitions, scores

SUNDAY_LATE = datetime(2026, 8, 9, 23, 59, 59, 900000, tzinfo=UTC)
MONDAY_EARLY = datetime(2026, 8, 10, 0, 0, 0, 100000, tzinfo=UTC)


def _span(trace_id: str, span_id: str, start: datetime, parent: str | None = "root") -> MappedSpan:
    return MappedSpan(trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=span_id,
                      kind="chain", start_time=start, end_time=start + timedelta(seconds=1),
                      status="ok", attributes={})  # fmt: skip


def test_two_writers_of_a_new_trace_either_side_of_a_week_make_one_trace(db_url: str) -> None:
    """Writer A stores the trace from a span of Sunday night and holds its transaction open;
    writer B stores it from a span of Monday morning and waits on A's ``trace_ids`` row. When
    A commits, B finds the trace A made and adds its span there: one trace, in Sunday's week."""
    noop = lambda t: t  # noqa: E731
    b_done = threading.Event()
    b_result: list[object] = []
    with connect(db_url, autocommit=True) as a, connect(db_url, autocommit=True) as b:
        with a.transaction():
            store_spans(a, "bot", [_span("race1", "x", SUNDAY_LATE)], noop)

            def writer_b() -> None:
                with b.transaction():
                    b_result.append(
                        store_spans(b, "bot", [_span("race1", "y", MONDAY_EARLY)], noop)
                    )
                b_done.set()

            thread = threading.Thread(target=writer_b)
            thread.start()
            assert not b_done.wait(1.0)  # B waits for A's uncommitted trace id
        thread.join(30)
        assert b_done.is_set()
        rows = a.execute(
            "SELECT id, part_time, tableoid::regclass::text AS partition FROM traces"
            " WHERE id = 'race1'"
        ).fetchall()
        assert len(rows) == 1 and rows[0]["part_time"] == SUNDAY_LATE
        assert rows[0]["partition"] == partitions.partition_name(
            "traces", datetime(2026, 8, 3, tzinfo=UTC)
        )
        spans = a.execute(
            "SELECT span_id, part_time FROM spans WHERE trace_id = 'race1' ORDER BY span_id"
        ).fetchall()
        assert [(s["span_id"], s["part_time"]) for s in spans] == [
            ("x", SUNDAY_LATE), ("y", SUNDAY_LATE)
        ]  # fmt: skip
        assert b_result and b_result[0].rejected == []  # type: ignore[attr-defined]


def test_a_retried_error_stays_one_row_after_the_start_moved_across_a_week(conn: Conn) -> None:
    noop = lambda t: t  # noqa: E731
    with conn.transaction():
        store_spans(conn, "bot", [_span("moved", "child", MONDAY_EARLY)], noop)
    error = scores.ScoreRow("moved", "judge", "1", Score.error("timeout"))
    assert scores.upsert_scores(conn, [error], None) == 1
    with conn.transaction():  # the root arrives late: the trace now starts the week before
        store_spans(conn, "bot", [_span("moved", "root", SUNDAY_LATE - timedelta(days=1), None)],
                    noop)  # fmt: skip
    start = conn.execute("SELECT start_time FROM traces WHERE id = 'moved'").fetchone()
    assert start["start_time"] < MONDAY_EARLY - timedelta(days=1)
    retry = scores.ScoreRow("moved", "judge", "1", Score.scored(0.8))
    assert scores.upsert_scores(conn, [retry], None) == 1
    again = scores.ScoreRow("moved", "judge", "1", Score.scored(0.1))
    assert scores.upsert_scores(conn, [again], None) == 0  # a final score is kept
    rows = conn.execute(
        "SELECT status, value, attempts, trace_start FROM scores WHERE trace_id = 'moved'"
    ).fetchall()
    assert [(r["status"], r["value"], r["attempts"]) for r in rows] == [("scored", 0.8, 2)]
    assert rows[0]["trace_start"] == MONDAY_EARLY  # the trace's partition, unchanged
    assert scores.needing_score(conn, ["moved"], "judge", "1") == set()


def test_a_score_of_a_trace_that_is_not_stored_is_refused(conn: Conn) -> None:
    import pytest

    from vigil.errors import VigilError

    with pytest.raises(VigilError, match="trace ghost, which is not stored"):
        scores.upsert_scores(
            conn, [scores.ScoreRow("ghost", "judge", "1", Score.scored(1.0))], None
        )


def test_the_same_key_twice_in_one_call_is_written_as_one_after_another(conn: Conn) -> None:
    noop = lambda t: t  # noqa: E731
    with conn.transaction():
        store_spans(conn, "bot", [_span("twice", "root", MONDAY_EARLY, None)], noop)
    rows = [
        scores.ScoreRow("twice", "judge", "1", Score.error("timeout")),
        scores.ScoreRow("twice", "judge", "1", Score.scored(0.5)),
        scores.ScoreRow("twice", "judge", "1", Score.scored(0.9)),
    ]
    assert scores.upsert_scores(conn, rows, None) == 2  # the error, then its retry
    row = conn.execute("SELECT value, attempts FROM scores WHERE trace_id = 'twice'").fetchone()
    assert (row["value"], row["attempts"]) == (0.5, 2)
