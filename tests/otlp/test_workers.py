"""`vigil serve-otlp` with several workers: they serve, and each loads the receiver, not the
whole CLI (a spawned worker imports its parent's main module first)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from tests.otlp.payloads import new_ids, request, span_spec
from tests.otlp.serve import serve_otlp
from vigil.db.types import Conn
from vigil.store import partitions
from vigil.store.keys import create_key

CLI_RSS = 200 * 1024 * 1024  # a worker holds 100 MB; 270 MB when it imported `cli.main`


def workers_of(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children() if "spawn_main" in " ".join(p.cmdline())]


def settled(procs: list[psutil.Process], timeout: float = 60) -> None:
    """Wait until the processes are idle: started, whatever they import."""
    deadline, last = time.monotonic() + timeout, -1.0
    while time.monotonic() < deadline:
        used = sum(sum(p.cpu_times()[:2]) for p in procs)
        if used - last < 0.02:
            return
        last = used
        time.sleep(0.5)


def drop_future_weeks(conn: Conn) -> list[datetime]:
    """Drop the (empty) partitions of weeks that have not begun, as a new database lacks them."""
    future = [r for r in partitions.ranges(conn) if r.lo > datetime.now(UTC)]
    with conn.transaction():
        for r in future:
            for table in (*partitions.TRACE_TABLES, "scores"):
                conn.execute(f'DROP TABLE "{r.name(table)}"')
            conn.execute("DELETE FROM time_partitions WHERE lo = %s", (r.lo,))
    return [r.lo for r in future]


def test_two_workers_serve_and_do_not_load_the_whole_cli(
    db_url: str, vigil_home: Path, conn: Conn
) -> None:
    _, key = create_key(conn, "rag-app", "test")
    assert drop_future_weeks(conn)
    with serve_otlp(db_url, vigil_home, VIGIL_OTLP_WORKERS="2") as (pid, url):
        # It made the partitions of the next two weeks before serving.
        ahead = [r for r in partitions.ranges(conn) if r.lo > datetime.now(UTC)]
        assert len(ahead) == 2
        for r in ahead:
            for table in (*partitions.TRACE_TABLES, "scores"):
                found = conn.execute("SELECT to_regclass(%s) AS t", (r.name(table),)).fetchone()
                assert found["t"] is not None, r.name(table)
        assert "serve-otlp" in " ".join(psutil.Process(pid).cmdline())
        deadline = time.monotonic() + 60
        while len(workers := workers_of(pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2
        settled(workers)
        assert [w.memory_info().rss < CLI_RSS for w in workers] == [True, True]
        trace_id, root, _, _ = new_ids()
        body = request([span_spec(trace_id, root, name="rag")]).SerializeToString()
        headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"}
        response = httpx.post(f"{url}/v1/traces", content=body, headers=headers, timeout=30)
        assert response.status_code == 200
    assert conn.execute("SELECT count(*) AS n FROM spans").fetchone() == {"n": 1}
