"""The shipped prefect.yaml on a process work pool: deploy it, start a worker, and have
`vigil backfill` run through the deployment on that worker (the many-machines path)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.helpers import seed, vigil
from tests.orchestration.prefect_pool import ROOT, prefect_server


def _prefect(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prefect", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


@pytest.fixture
def prefect_env(tmp_path: Path, db_url: str) -> Iterator[dict[str, str]]:
    """A Prefect server of its own (SQLite), and the environment that points at it."""
    with prefect_server(tmp_path / "prefect", db_url) as env:
        yield env


def _let_scheduled_runs_finish(conn, timeout_s: float = 120) -> None:  # type: ignore[no-untyped-def]
    """A scheduled evaluate-window that fired during the test (its */15 schedule) is left
    to finish on the worker before the worker stops, so that its row can be checked."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = conn.execute(
            "SELECT count(*) AS n FROM eval_runs WHERE status = 'running'"
        ).fetchone()["n"]
        if running == 0:
            return
        time.sleep(1)


def test_prefect_yaml_deploys_to_a_process_pool_and_a_worker_runs_the_backfill(
    conn, prefect_env: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    created = _prefect(["work-pool", "create", "vigil-process", "--type", "process"], prefect_env)
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = _prefect(["--no-prompt", "deploy", "--all"], prefect_env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    on_demand = _prefect(["deployment", "inspect", "backfill/backfill"], prefect_env)
    assert on_demand.returncode == 0 and "vigil-process" in on_demand.stdout, on_demand.stdout
    scheduled = _prefect(["deployment", "inspect", "evaluate-window/evaluate-window"], prefect_env)
    assert "*/15 * * * *" in scheduled.stdout and "vigil-process" in scheduled.stdout
    detection = _prefect(["deployment", "inspect", "detect/detect"], prefect_env)
    assert detection.returncode == 0 and "vigil-process" in detection.stdout, detection.stdout
    canary = _prefect(["deployment", "inspect", "canary/canary"], prefect_env)
    assert "*/30 * * * *" in canary.stdout and "vigil-process" in canary.stdout, canary.stdout
    pruning = _prefect(["deployment", "inspect", "retention/retention"], prefect_env)
    assert "17 3 * * *" in pruning.stdout and "vigil-process" in pruning.stdout, pruning.stdout

    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    seed(conn, day, 6)
    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", "vigil-process"],
        env=prefect_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        run = vigil(["backfill", "--evaluator", "latency_ms", "--evaluator", "tokens",
                     "--start", f"{day:%Y-%m-%d}", "--end", f"{day + timedelta(days=1):%Y-%m-%d}"],
                    prefect_env, timeout=400)  # fmt: skip
        _let_scheduled_runs_finish(conn)
    finally:
        worker.terminate()
        worker.wait(30)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "completed: 6 traces, 6 scored, 6 skipped, 0 errors" in run.stdout, (
        run.stdout
    )  # no latency
    rows = conn.execute("SELECT kind, status, flow_run_id FROM eval_runs").fetchall()
    backfills = [r for r in rows if r["kind"] == "backfill"]
    assert [(r["kind"], r["status"]) for r in backfills] == [("backfill", "completed")]
    assert backfills[0]["flow_run_id"]  # run by Prefect, on the worker
    # The deployed */15 schedule may fire while the test runs: such a run is the scheduled
    # evaluate-window, and it completes on the same worker too.
    assert all(r["kind"] == "window" and r["status"] == "completed" and r["flow_run_id"]
               for r in rows if r not in backfills)  # fmt: skip
