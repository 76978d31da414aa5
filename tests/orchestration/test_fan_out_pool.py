"""A backfill fanned out over a process work pool: `vigil deploy`, a coordinator worker for
the `backfill` queue, and two day workers (`--work-queue default --limit 1`) on one real
Prefect server. Each day is a run of `evaluate-window` that either worker may take."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.helpers import seed, vigil
from tests.orchestration.prefect_pool import prefect_server
from vigil.testing.fake_openai import FakeOpenAIServer
from vigil.testing.workers import kill_tree, start_worker, stop_worker

JUDGE_CONCURRENCY = 2  # a global limit per judge model, across every worker
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=9)


@pytest.fixture(scope="module")
def judge() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency_s=0.5) as fake:
        yield fake


@pytest.fixture(scope="module")
def pool_env(
    tmp_path_factory: pytest.TempPathFactory, migrated_url: str, judge: FakeOpenAIServer
) -> Iterator[dict[str, str]]:
    """A Prefect server with Vigil deployed on the `vigil-process` pool by `vigil deploy`."""
    home = tmp_path_factory.mktemp("fan-out")
    settings = {
        "VIGIL_HOME": str(home / "vigil"), "VIGIL_JUDGE_PROVIDER": "openai_compatible",
        "VIGIL_JUDGE_MODEL": "fake-judge", "VIGIL_JUDGE_BASE_URL": judge.base_url,
        "VIGIL_JUDGE_CONCURRENCY": str(JUDGE_CONCURRENCY), "VIGIL_BATCH_SIZE": "2",
        # a killed worker's run is marked crashed after a minute without heartbeats
        "VIGIL_CRASH_AFTER_S": "60", "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
    }  # fmt: skip
    with prefect_server(home / "prefect", migrated_url, **settings) as env:
        deployed = vigil(["deploy"], env, timeout=300)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "vigil-judge-openai_compatible-fake-judge: 2 in flight" in deployed.stdout
        assert "no heartbeat" not in deployed.stderr
        assert "automation 'vigil: mark flow runs without heartbeats crashed'" in deployed.stdout
        yield env


class Workers:
    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.coordinator = start_worker(env, folder / "coordinator.log", "coordinator",
                                        "--work-queue", "backfill")  # fmt: skip
        self.days = {name: start_worker(env, folder / f"{name}.log", name, "--work-queue",
                                        "default", "--limit", "1")
                     for name in ("day-a", "day-b")}  # fmt: skip

    def ran(self, name: str) -> set[str]:
        """The flow runs a day worker ran, from its log: a flow-run process it started
        prints where the run is in the UI (a worker that lost the race to claim a run
        logs only "submitting" and "Aborted submission")."""
        text = (self.folder / f"{name}.log").read_text(errors="replace")
        return set(re.findall(r"/runs/flow-run/([0-9a-f-]{36})", text))

    def stop(self) -> None:
        for worker in [self.coordinator, *self.days.values()]:
            stop_worker(worker)


@pytest.fixture
def workers(pool_env: dict[str, str], tmp_path: Path, db_url: str) -> Iterator[Workers]:
    started = Workers(pool_env, tmp_path)
    try:
        yield started
    finally:
        started.stop()


def _backfill(env: dict[str, str], days: int, *evaluators: str) -> subprocess.CompletedProcess[str]:
    picked = [arg for name in evaluators for arg in ("--evaluator", name)]
    return vigil(["backfill", *picked, "--parallel", "2", "--start", f"{DAY:%Y-%m-%d}",
                  "--end", f"{DAY + timedelta(days=days):%Y-%m-%d}"], env, timeout=600)  # fmt: skip


def _seed_days(conn, days: int, per_day: int) -> None:  # type: ignore[no-untyped-def]
    for d in range(days):
        seed(conn, DAY + timedelta(days=d), per_day, prefix=f"d{d}", step=timedelta(minutes=30))


def _scored_once(conn, evaluators: tuple[str, ...], traces: int) -> None:  # type: ignore[no-untyped-def]
    """Every trace has exactly one final score per evaluator: none lost, none twice."""
    rows = conn.execute(
        "SELECT t.id, e.name, count(s.id) AS n FROM traces t CROSS JOIN unnest(%s::text[]) e(name)"
        " LEFT JOIN scores s ON s.trace_id = t.id AND s.evaluator = e.name"
        " AND s.status IN ('scored', 'skipped') GROUP BY 1, 2",
        (list(evaluators),),
    ).fetchall()
    assert len(rows) == traces * len(evaluators)
    assert {r["n"] for r in rows} == {1}, [r for r in rows if r["n"] != 1][:5]


def _day_runs(conn):  # type: ignore[no-untyped-def]
    return conn.execute(
        "SELECT window_start, status, flow_run_id, message, started_at, finished_at"
        " FROM eval_runs WHERE kind = 'backfill' ORDER BY window_start, started_at"
    ).fetchall()


def test_a_six_day_backfill_runs_its_days_on_both_workers_and_scores_each_trace_once(
    conn, workers: Workers
) -> None:  # type: ignore[no-untyped-def]
    _seed_days(conn, 6, 4)
    run = _backfill(workers.env, 6, "latency_ms", "tokens")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "completed: 24 traces, 24 scored, 24 skipped, 0 errors" in run.stdout, run.stdout
    days = _day_runs(conn)
    assert [r["window_start"] for r in days] == [DAY + timedelta(days=d) for d in range(6)]
    assert all(r["status"] == "completed" for r in days)
    day_runs = {str(r["flow_run_id"]) for r in days}
    assert len(day_runs) == 6  # a flow run of its own per day, not a subflow
    on_a, on_b = workers.ran("day-a") & day_runs, workers.ran("day-b") & day_runs
    assert on_a and on_b, (on_a, on_b)  # both workers ran days
    assert on_a | on_b == day_runs and not on_a & on_b
    _scored_once(conn, ("latency_ms", "tokens"), 24)


def test_the_judge_limit_holds_across_workers(
    conn, workers: Workers, judge: FakeOpenAIServer
) -> None:  # type: ignore[no-untyped-def]
    _seed_days(conn, 2, 8)
    judge.max_in_flight, before = 0, len(judge.requests)
    run = _backfill(workers.env, 2, "judge_groundedness")
    assert run.returncode == 0, run.stdout + run.stderr
    days = _day_runs(conn)
    assert len(days) == 2 and all(r["status"] == "completed" for r in days)
    # the two days ran at the same time, on the two workers, each allowed 2 requests in
    # flight by its own process: 4 without the shared limit
    assert days[0]["started_at"] < days[1]["finished_at"]
    assert days[1]["started_at"] < days[0]["finished_at"]
    assert workers.ran("day-a") and workers.ran("day-b")
    assert len(judge.requests) - before >= 16
    assert judge.max_in_flight == JUDGE_CONCURRENCY
    _scored_once(conn, ("judge_groundedness",), 16)


def test_a_worker_killed_mid_day_leaves_the_backfill_complete_with_each_score_once(
    conn, workers: Workers
) -> None:  # type: ignore[no-untyped-def]
    _seed_days(conn, 2, 16)
    result: list[subprocess.CompletedProcess[str]] = []
    backfill = threading.Thread(
        target=lambda: result.append(_backfill(workers.env, 2, "judge_groundedness"))
    )
    backfill.start()
    victim = None
    deadline = time.monotonic() + 300
    while victim is None and time.monotonic() < deadline:
        busy = conn.execute(
            "SELECT flow_run_id FROM eval_runs WHERE kind = 'backfill' AND status = 'running'"
            " AND traces_done >= 2 AND traces_done < traces_total LIMIT 1"
        ).fetchone()
        if busy:
            victim = next(n for n in workers.days if str(busy["flow_run_id"]) in workers.ran(n))
        time.sleep(0.2)
    assert victim is not None, "no day run made progress"
    assert kill_tree(workers.days[victim].pid)  # the worker and its flow run, mid-day
    backfill.join(600)
    assert result, "the backfill did not end"
    assert result[0].returncode == 0, result[0].stdout + result[0].stderr
    days = _day_runs(conn)
    crashed = [r for r in days if r["status"] == "failed"]
    assert len(crashed) == 1 and "crashed" in crashed[0]["message"], days
    completed = [r for r in days if r["status"] == "completed"]
    assert sorted(r["window_start"] for r in completed) == [DAY, DAY + timedelta(days=1)]
    survivor = next(n for n in workers.days if n != victim)
    assert {str(r["flow_run_id"]) for r in completed} <= workers.ran(survivor) | workers.ran(victim)
    retried = next(r for r in completed if r["window_start"] == crashed[0]["window_start"])
    assert str(retried["flow_run_id"]) in workers.ran(survivor)  # finished on the other worker
    _scored_once(conn, ("judge_groundedness",), 32)


def test_judge_slots_hold_a_limit_across_clients_and_name_a_missing_one(
    pool_env: dict[str, str],
) -> None:
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.judge_sharing import JudgeSlots
    from vigil.errors import VigilError

    with temporary_settings({PREFECT_API_URL: pool_env["PREFECT_API_URL"]}):
        with get_client(sync_client=True) as admin:
            admin.upsert_global_concurrency_limit_by_name("vigil-test-slots", 1)
        inside, most, lock = 0, 0, threading.Lock()

        def one(slots: JudgeSlots) -> None:
            nonlocal inside, most
            with slots.request():
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.05)
                with lock:
                    inside -= 1

        clients = [get_client(sync_client=True) for _ in range(2)]
        for client in clients:
            client.__enter__()
        try:
            holders = [JudgeSlots(c, "vigil-test-slots", None) for c in clients]
            threads = [threading.Thread(target=lambda h=h: [one(h) for _ in range(5)])
                       for h in holders for _ in range(2)]  # fmt: skip
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            assert most == 1  # four threads on two clients, one slot
            missing = JudgeSlots(clients[0], "vigil-test-missing", None)
            with (
                pytest.raises(VigilError, match="no limit 'vigil-test-missing'"),
                missing.request(),
            ):
                pass
        finally:
            for client in clients:
                client.__exit__(None, None, None)
