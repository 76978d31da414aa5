"""Exactly once: concurrent runs split the work; judge failures are errors, retried later;
a spent judge budget stops a run from taking new traces. Through the plain functions the
flows call, on the real database and the real judge against the fake server."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from evaluators import Evaluator, Resources
from evaluators.base import Need
from evaluators.judge_groundedness import JudgeGroundedness
from flows.evaluation import BatchOutcome, evaluate_picks, evaluate_slice
from flows.planning import plan_app
from tests.cli.helpers import seed
from tests.fakes.judge import make_judge
from vigil.db import connect
from vigil.models import Score, Trace
from vigil.settings import Settings
from vigil.store import runs
from vigil.testing.fake_openai import FakeOpenAIServer

DAY = datetime(2026, 4, 1, tzinfo=UTC)
WINDOW = (DAY, DAY + timedelta(days=1))


class CountingEvaluator(Evaluator):
    """A real (trivial) evaluator that takes its time and remembers what it scored."""

    name = "answer_length"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer"})
    seen: ClassVar[list[str]] = []
    lock = threading.Lock()

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        time.sleep(0.05)
        with self.lock:
            self.seen.extend(t.id for t in traces)
        return [Score.scored(min(1.0, len(t.output or "") / 100)) for t in traces]


def _seed(conn, n: int) -> None:  # type: ignore[no-untyped-def]
    assert seed(conn, DAY, n, prefix="x", step=timedelta(minutes=1)) == n


def _run(url: str, evaluators: list[Evaluator], size: int = 5) -> tuple[int, BatchOutcome]:
    """One run as the flow does it: plan, then claim and evaluate batch by batch, then one
    more pass over what another run held."""
    settings = Settings()
    keys = [(e.name, e.version) for e in evaluators]
    with connect(url, autocommit=True) as conn, connect(url) as lock_conn:
        run_id = runs.start_run(conn, kind="adhoc", window_start=WINDOW[0],
                                window_end=WINDOW[1], evaluators=[k for k, _ in keys])  # fmt: skip
        plan = plan_app(conn, settings, "e2e", WINDOW, keys, run_id)
        total = evaluate_picks(
            plan.trace_ids,
            lambda part: evaluate_slice(conn, lock_conn, part, evaluators, run_id, size),
            size,
        )
    return run_id, total


def test_two_concurrent_runs_split_the_window_and_store_each_score_once(conn, db_url) -> None:  # type: ignore[no-untyped-def]
    _seed(conn, 60)
    CountingEvaluator.seen.clear()
    results: list[tuple[int, BatchOutcome]] = []

    def one_run() -> None:
        results.append(_run(db_url, [CountingEvaluator(Resources(provider=None))]))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 2
    assert sorted(CountingEvaluator.seen) == sorted(f"x-{i}" for i in range(60))  # each once
    assert all(outcome.scored > 0 for _, outcome in results), "one run did all the work"
    assert sum(outcome.scored for _, outcome in results) == 60
    rows = conn.execute("SELECT count(*) AS n, max(attempts) AS a FROM scores").fetchone()
    assert (rows["n"], rows["a"]) == (60, 1)
    counted = conn.execute(
        "SELECT sum(scored) AS s, sum(traces_done) AS d FROM eval_runs"
    ).fetchone()
    assert (counted["s"], counted["d"]) == (60, 60)  # progress counted in the same transactions


def test_judge_failures_are_errors_and_the_next_run_retries_them(conn, db_url) -> None:  # type: ignore[no-untyped-def]
    _seed(conn, 8)
    garbage = FakeOpenAIServer(reply=lambda _: "{I would rather not say.")
    with garbage:  # no score in any reply
        judge = make_judge(garbage, judge_max_retries=1)
        _, first = _run(db_url, [JudgeGroundedness(Resources(provider=None, judge=judge))])
    assert (first.scored, first.errors) == (0, 8)
    stored = conn.execute("SELECT status, attempts, explanation FROM scores").fetchall()
    assert {(r["status"], r["attempts"]) for r in stored} == {("error", 1)}
    assert all(r["explanation"] for r in stored)

    with FakeOpenAIServer(fail_first=4, fail_status=500) as flaky:  # 500s beyond the retries
        _, second = _run(
            db_url,
            [
                JudgeGroundedness(
                    Resources(provider=None, judge=make_judge(flaky, judge_max_retries=0))
                )
            ],
        )
    assert second.traces == 8 and second.errors >= 1 and second.scored >= 1
    assert 500 in flaky.statuses

    with FakeOpenAIServer(stall_first=100, stall_s=3) as slow:  # every request times out
        judge = make_judge(slow, judge_timeout_s=0.5, judge_max_retries=0)
        _, third = _run(db_url, [JudgeGroundedness(Resources(provider=None, judge=judge))])
    assert third.scored == 0 and third.errors == second.errors
    left = conn.execute("SELECT count(*) AS n FROM scores WHERE status = 'error'").fetchone()["n"]
    assert left == second.errors and left > 0
    assert conn.execute("SELECT max(attempts) AS a FROM scores").fetchone()["a"] == 3

    with FakeOpenAIServer() as healthy:  # three attempts made: those errors are final now
        _, fourth = _run(
            db_url, [JudgeGroundedness(Resources(provider=None, judge=make_judge(healthy)))]
        )
    assert fourth.traces == 0 and healthy.requests == []
    rows = conn.execute("SELECT status, count(*) AS n FROM scores GROUP BY 1").fetchall()
    assert {r["status"]: r["n"] for r in rows} == {"scored": 8 - left, "error": left}


def test_a_spent_budget_stops_the_run_and_the_next_run_goes_on(conn, db_url) -> None:  # type: ignore[no-untyped-def]
    _seed(conn, 20)
    with FakeOpenAIServer() as fake:
        judge = make_judge(fake, judge_max_tokens_per_run=600, judge_concurrency=1)
        _, first = _run(db_url, [JudgeGroundedness(Resources(provider=None, judge=judge))], size=4)
        assert first.budget_spent
        assert 0 < first.scored < 20 and first.errors == 0
        assert judge.usage.tokens >= 600 and first.judge_tokens == judge.usage.tokens
        stored = conn.execute("SELECT count(*) AS n FROM scores").fetchone()["n"]
        assert stored == first.scored  # not-attempted traces are not stored as errors
        assert (
            conn.execute("SELECT judge_tokens FROM eval_runs").fetchone()["judge_tokens"]
            == judge.usage.tokens
        )

        _, second = _run(
            db_url, [JudgeGroundedness(Resources(provider=None, judge=make_judge(fake)))]
        )
    assert not second.budget_spent and second.scored == 20 - first.scored
    assert (
        conn.execute("SELECT count(*) AS n FROM scores WHERE status = 'scored'").fetchone()["n"]
        == 20
    )
