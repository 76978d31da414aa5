"""The Overview's rollups (0012, 0014) follow re-assembled traces and rescored errors: after
each refresh they equal the same aggregates computed from ``traces`` and ``scores``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from vigil.db import connect
from vigil.db.types import Conn
from vigil.ingest.spans import complete_quiet_traces, store_spans
from vigil.models import MappedSpan, Score, Trace
from vigil.store import rollups, scores, traces

T0 = datetime(2026, 3, 10, 0, 0, 5, tzinfo=UTC)  # five seconds into a UTC day
APP = "bot"

# The rollups' own definitions, computed again from the raw tables.
RAW = {
    "score_daily": """
        SELECT app, (trace_start AT TIME ZONE 'UTC')::date AS day, evaluator,
               evaluator_version, status, count(*) AS n, count(value) AS valued,
               round(coalesce(sum(value), 0)::numeric, 9) AS total
        FROM scores WHERE status IN ('scored', 'skipped') GROUP BY 1, 2, 3, 4, 5""",
    "trace_daily": """
        SELECT app, (start_time AT TIME ZONE 'UTC')::date AS day, coalesce(model, '') AS model,
               coalesce(prompt_version, '') AS prompt_version, count(*) AS requests,
               count(cost_usd) AS costed, round(coalesce(sum(cost_usd), 0)::numeric, 9) AS cost,
               coalesce(sum(tokens_in), 0) AS tokens_in, coalesce(sum(tokens_out), 0) AS tokens_out
        FROM traces WHERE complete GROUP BY 1, 2, 3, 4""",
    "latency_daily": f"""
        SELECT app, (start_time AT TIME ZONE 'UTC')::date AS day,
               floor(ln(1 + latency_ms) / ln({rollups.LATENCY_BIN}))::integer AS bin,
               count(*) AS n
        FROM traces WHERE complete AND latency_ms IS NOT NULL GROUP BY 1, 2, 3""",
}
ROLLED = {
    "score_daily": """
        SELECT app, day, evaluator, evaluator_version, status, n, valued,
               round(total::numeric, 9) AS total FROM score_daily""",
    "trace_daily": """
        SELECT app, day, model, prompt_version, requests, costed,
               round(cost_usd::numeric, 9) AS cost, tokens_in, tokens_out FROM trace_daily""",
    "latency_daily": "SELECT app, day, bin, n FROM latency_daily",
}


def rows(conn: Conn, query: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in conn.execute(query).fetchall())


def raw(conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
    """What the rollups should hold: aggregates of ``traces`` and ``scores``."""
    return {table: rows(conn, query) for table, query in RAW.items()}


def rolled(conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
    """What the rollups hold, in the same shape as :func:`raw`."""
    return {table: rows(conn, query) for table, query in ROLLED.items()}


def assert_rollups_match(conn: Conn) -> None:
    assert rolled(conn) == raw(conn)


@pytest.fixture(autouse=True)
def empty_rollups(conn: Conn) -> Iterator[None]:
    """Start from empty rollups and an empty change log, with the mark at now."""
    conn.execute("TRUNCATE score_daily, trace_daily, latency_daily, rollup_changes")
    assert rollups.refresh(conn)
    yield


def span(trace_id: str, span_id: str, start: timedelta, ms: float, **kw: Any) -> MappedSpan:
    begin = T0 + start
    return MappedSpan(
        trace_id=trace_id, span_id=span_id, parent_span_id=kw.pop("parent", None),
        name=span_id, kind=kw.pop("kind", "chain"), start_time=begin,
        end_time=begin + timedelta(milliseconds=ms), status="ok", attributes={},
        mapped=kw,
    )  # fmt: skip


def llm(trace_id: str, span_id: str, start: timedelta, model: str, tokens: int) -> MappedSpan:
    return span(trace_id, span_id, start, 50, parent="root", kind="llm", model=model,
                tokens_in=tokens, tokens_out=tokens // 10, cost_usd=tokens / 1e6)  # fmt: skip


def write(conn: Conn, *spans: MappedSpan) -> None:
    with conn.transaction():
        store_spans(conn, APP, list(spans), lambda t: t)


def trace_daily(conn: Conn) -> list[tuple[Any, ...]]:
    return rows(conn, "SELECT day, model, requests, tokens_in FROM trace_daily")


def test_a_late_child_span_changes_the_rollups_of_a_complete_trace(conn: Conn) -> None:
    write(conn, span("t1", "root", timedelta(0), 800),
          llm("t1", "a", timedelta(milliseconds=10), "gpt-x", 1000))  # fmt: skip
    write(conn, span("t2", "root", timedelta(hours=1), 300),
          llm("t2", "a", timedelta(hours=1, milliseconds=5), "gpt-x", 500))  # fmt: skip
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    assert trace_daily(conn) == [(T0.date(), "gpt-x", 2, 1500)]

    # t1's last LLM call arrives after its root ended: re-assembled, the model is the last
    # call's, and the tokens and cost add up.
    write(conn, llm("t1", "late", timedelta(milliseconds=700), "gpt-y", 3000))
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    assert trace_daily(conn) == [(T0.date(), "gpt-x", 1, 500), (T0.date(), "gpt-y", 1, 4000)]


def test_a_swept_trace_whose_root_arrives_later_moves_to_the_roots_day(conn: Conn) -> None:
    write(conn, llm("t1", "a", timedelta(seconds=1), "gpt-x", 1000))
    write(conn, llm("t2", "a", timedelta(seconds=2), "gpt-x", 100),
          span("t2", "root", timedelta(seconds=1), 2000))  # fmt: skip
    conn.execute("UPDATE traces SET updated_at = now() - interval '1 hour' WHERE id = 't1'")
    assert complete_quiet_traces(conn, 60) == 1  # t1's root never came: the sweep closes it
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    assert trace_daily(conn) == [(T0.date(), "gpt-x", 2, 1100)]

    # The root does come, and started ten seconds earlier: the day before.
    write(conn, span("t1", "root", timedelta(seconds=-10), 12_000))
    stored = conn.execute("SELECT start_time, latency_ms FROM traces WHERE id = 't1'").fetchone()
    assert stored["start_time"] == T0 - timedelta(seconds=10)
    assert stored["latency_ms"] == pytest.approx(12_000)
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    day_before = T0.date() - timedelta(days=1)
    assert trace_daily(conn) == [(day_before, "gpt-x", 1, 1000), (T0.date(), "gpt-x", 1, 100)]


def test_a_swept_trace_that_opens_again_leaves_the_rollups_until_it_completes(
    conn: Conn,
) -> None:
    write(conn, llm("t1", "a", timedelta(seconds=1), "gpt-x", 1000))
    assert complete_quiet_traces(conn, 0) == 1
    assert rollups.refresh(conn)
    assert trace_daily(conn) == [(T0.date(), "gpt-x", 1, 1000)]

    write(conn, llm("t1", "b", timedelta(seconds=2), "gpt-x", 10))  # still no root: open again
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    assert trace_daily(conn) == []

    write(conn, span("t1", "root", timedelta(0), 5000))  # complete again: counted once
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    assert trace_daily(conn) == [(T0.date(), "gpt-x", 1, 1010)]


def test_a_trace_completed_and_re_assembled_between_two_refreshes_counts_once(
    conn: Conn,
) -> None:
    write(conn, span("t1", "root", timedelta(0), 800),
          llm("t1", "a", timedelta(milliseconds=10), "gpt-x", 1000))  # fmt: skip
    write(conn, llm("t1", "late", timedelta(milliseconds=700), "gpt-x", 5))
    write(conn, llm("t1", "later", timedelta(milliseconds=750), "gpt-x", 5))
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    assert trace_daily(conn) == [(T0.date(), "gpt-x", 1, 1010)]


def test_a_re_assembly_committed_after_the_refresh_began_is_taken_by_the_next(
    conn: Conn, db_url: str
) -> None:
    write(conn, span("t1", "root", timedelta(0), 800),
          llm("t1", "a", timedelta(milliseconds=10), "gpt-x", 1000))  # fmt: skip
    assert rollups.refresh(conn)
    with connect(db_url, autocommit=True) as writer:
        with writer.transaction():
            store_spans(writer, APP, [llm("t1", "late", timedelta(milliseconds=700), "gpt-y", 7)],
                        lambda t: t)  # fmt: skip
            writer.execute("INSERT INTO traces (id, app, start_time, latency_ms, model, part_time)"
                           " VALUES ('t2', 'bot', %s, 40, 'gpt-y', %s)", (T0, T0))  # fmt: skip
            assert rollups.refresh(conn)  # sees neither: not committed yet
            assert trace_daily(conn) == [(T0.date(), "gpt-x", 1, 1000)]
        assert rollups.refresh(conn)
        assert_rollups_match(conn)
        assert trace_daily(conn) == [(T0.date(), "gpt-y", 2, 1007)]
        assert rollups.refresh(conn)  # nothing new: nothing changes
        assert_rollups_match(conn)


def test_a_refresh_running_elsewhere_is_not_waited_for(conn: Conn, db_url: str) -> None:
    write(conn, span("t1", "root", timedelta(0), 800))
    with connect(db_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (rollups.LOCK_KEY,))
        assert not rollups.refresh(conn)
        assert trace_daily(conn) == []
        other.execute("SELECT pg_advisory_unlock(%s)", (rollups.LOCK_KEY,))
    assert rollups.refresh(conn)
    assert_rollups_match(conn)


def test_a_changed_column_the_rollups_do_not_read_leaves_no_change_behind(conn: Conn) -> None:
    write(conn, span("t1", "root", timedelta(0), 800))
    conn.execute('UPDATE traces SET segment = \'{"route": "x"}\', user_feedback = 1')
    conn.execute("UPDATE traces SET latency_ms = latency_ms")  # the same values
    assert conn.execute("SELECT count(*) AS n FROM rollup_changes").fetchone()["n"] == 0


def test_an_error_rescored_counts_once(conn: Conn) -> None:
    traces.insert_traces(conn, [Trace(id="t1", app=APP, start_time=T0, latency_ms=10.0)])
    row = scores.ScoreRow("t1", "groundedness", "1", Score.error("timeout"))
    assert scores.upsert_scores(conn, [row], run_id=None) == 1
    assert rollups.refresh(conn)
    assert rolled(conn)["score_daily"] == []  # errors are counted from `scores` itself

    scored = scores.ScoreRow("t1", "groundedness", "1", Score.scored(0.75))
    assert scores.upsert_scores(conn, [scored], run_id=None) == 1  # the retry replaces it
    assert rollups.refresh(conn)
    assert scores.upsert_scores(conn, [scored], run_id=None) == 0  # final: not overwritten
    again = scores.ScoreRow("t1", "groundedness", "1", Score.scored(0.1))
    assert scores.upsert_scores(conn, [again], run_id=None) == 0
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    assert rows(conn, "SELECT status, n, valued, total FROM score_daily") == [
        ("scored", 1, 1, 0.75)
    ]


def test_an_error_rescored_before_the_refresh_counts_once(conn: Conn) -> None:
    traces.insert_traces(conn, [Trace(id="t1", app=APP, start_time=T0)])
    for score in (Score.error("timeout"), Score.error("timeout"), Score.skipped("no context")):
        scores.upsert_scores(conn, [scores.ScoreRow("t1", "groundedness", "1", score)], run_id=None)
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    assert rows(conn, "SELECT status, n FROM score_daily") == [("skipped", 1)]


def test_a_snapshot_older_than_another_refresh_cannot_take_the_mark(
    conn: Conn, db_url: str
) -> None:
    """The refresh's lock lives only as long as its transaction; a refresh whose snapshot
    predates another's commit must not count that refresh's rows again."""
    write(conn, span("t1", "root", timedelta(0), 800))
    with connect(db_url, autocommit=True) as late, late.transaction():
        late.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        late.execute("SELECT 1")  # its snapshot: before the refresh below
        assert rollups.refresh(conn)
        with pytest.raises(psycopg.errors.SerializationFailure):
            rollups._refresh(late)
    assert_rollups_match(conn)  # counted once
    assert [row[2] for row in trace_daily(conn)] == [1]
    held = conn.execute("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'"
                        ).fetchone()  # fmt: skip
    assert held is not None and held["n"] == 0  # no session-level lock left behind
