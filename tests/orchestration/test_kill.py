"""`kill -9` partway through a backfill, then a re-run: no duplicates and no gaps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from tests.cli.helpers import seed
from tests.conftest import free_port
from vigil.testing.fake_openai import FakeOpenAIServer

DAYS = 3
PER_DAY = 10


def _backfill(env: dict[str, str], start: datetime) -> subprocess.Popen[str]:
    end = start + timedelta(days=DAYS)
    args = ["backfill", "--local", "--evaluator", "judge_groundedness",
            "--start", f"{start:%Y-%m-%d}", "--end", f"{end:%Y-%m-%d}"]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the kill takes Prefect's server too
    )


def _stored(conn) -> int:  # type: ignore[no-untyped-def]
    return int(conn.execute("SELECT count(*) AS n FROM scores").fetchone()["n"])


def test_a_killed_backfill_is_finished_by_a_rerun_exactly_once(conn, db_url) -> None:  # type: ignore[no-untyped-def]
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=7)
    for day in range(DAYS):
        assert seed(conn, start + timedelta(days=day), PER_DAY, prefix=f"day{day}") == PER_DAY
    total = DAYS * PER_DAY
    with FakeOpenAIServer(latency_s=0.15) as fake:
        env = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_PREFECT_PORT": str(free_port()),
               "VIGIL_BATCH_SIZE": "4", "VIGIL_JUDGE_PROVIDER": "openai_compatible",
               "VIGIL_JUDGE_MODEL": "fake-judge", "VIGIL_JUDGE_BASE_URL": fake.base_url,
               "VIGIL_JUDGE_API_KEY": "fake", "VIGIL_JUDGE_CONCURRENCY": "1"}  # fmt: skip
        env.pop("PREFECT_API_URL", None)
        first = _backfill(env, start)
        deadline = time.monotonic() + 240
        while _stored(conn) < 4:  # the first batch is committed: kill it partway
            assert first.poll() is None, f"finished before the kill: {first.communicate()[0]}"
            assert time.monotonic() < deadline, "no batch was committed in 240 s"
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
        killed_at = _stored(conn)
        assert 4 <= killed_at < total, killed_at
        batch_ends = [PER_DAY * d + min(b, PER_DAY) for d in range(DAYS) for b in (4, 8, 12)]
        assert killed_at in batch_ends, f"{killed_at} is not a whole number of batches"

        second = _backfill(env, start)
        out, _ = second.communicate(timeout=300)
        assert second.returncode == 0, out
    rows = conn.execute(
        "SELECT count(*) AS n, count(DISTINCT trace_id) AS traces, max(attempts) AS attempts,"
        " count(*) FILTER (WHERE status = 'scored') AS scored FROM scores"
    ).fetchone()
    assert dict(rows) == {"n": total, "traces": total, "attempts": 1, "scored": total}
    counted = conn.execute("SELECT sum(scored) AS s FROM eval_runs").fetchone()["s"]
    assert counted == total  # the killed run counted only what it committed
    assert f"{total - killed_at} scored" in out, out
