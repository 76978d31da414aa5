"""Vigil through PgBouncer in transaction mode (Debian's, 1.18: no prepared statements
across transactions): with VIGIL_DATABASE_POOLER=transaction, the commands, the evaluation
flow's body and the overview's rollup refresh work, leaving no session state behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port
from tests.debian import ensure_package
from vigil.db import connect
from vigil.db.types import Conn
from vigil.store import rollups

PGBOUNCER = Path("/usr/sbin/pgbouncer")


@pytest.fixture
def pooled_url(db_url: str) -> Iterator[str]:
    """PgBouncer in transaction mode in front of the test database, two server connections."""
    binary = ensure_package("pgbouncer", PGBOUNCER)
    target = psycopg.conninfo.conninfo_to_dict(db_url)
    folder = tempfile.mkdtemp(prefix="vigil-pgbouncer-")
    os.chmod(folder, 0o777)  # PgBouncer will not run as root: it runs as nobody
    port = free_port()
    config = Path(folder, "pgbouncer.ini")
    config.write_text(
        "[databases]\n"
        f"vigil_test = host={target['host']} port={target['port']} dbname={target['dbname']}"
        f" user={target.get('user') or 'postgres'}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\ndefault_pool_size = 2\n"
        f"max_client_conn = 100\nlogfile = {folder}/pgbouncer.log\n"
        f"pidfile = {folder}/pgbouncer.pid\n"
    )
    config.chmod(0o644)
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([str(binary), *user, str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"postgresql://postgres@127.0.0.1:{port}/vigil_test"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(url, connect_timeout=2) as probe:
                    probe.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                assert proc.poll() is None, Path(folder, "pgbouncer.log").read_text()
                assert time.monotonic() < deadline, "PgBouncer did not start"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def test_vigil_works_through_pgbouncer_in_transaction_mode(
    pooled_url: str, conn: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_DATABASE_POOLER", "transaction")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    traces = tmp_path / "traces.jsonl"
    traces.write_text("".join(json.dumps({
        "id": f"pooled-{i}", "app": "shop", "start_time": (day + timedelta(minutes=i)).isoformat(),
        "latency_ms": 100 + i, "input": f"question {i}", "output": f"answer {i}",
    }) + "\n" for i in range(30)))  # fmt: skip
    env = {**os.environ, "VIGIL_DATABASE_URL": pooled_url}
    for args in (["ingest", str(traces)],
                 ["backfill", "--local", "--evaluator", "latency_ms", "--start",
                  f"{day:%Y-%m-%d}", "--end", f"{day + timedelta(days=1):%Y-%m-%d}"],
                 ["runs"], ["regressions"]):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    with connect(pooled_url, autocommit=True) as pooled:
        for _ in range(8):  # past psycopg's prepare threshold of 5
            assert rollups.refresh(pooled)
            got = pooled.execute("SELECT count(*) AS n FROM scores WHERE evaluator = %s",
                                 ("latency_ms",)).fetchone()  # fmt: skip
            assert got is not None and got["n"] == 30
    daily = conn.execute("SELECT sum(requests) AS n FROM trace_daily").fetchone()
    assert daily is not None and daily["n"] == 30
    held = conn.execute("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'"
                        ).fetchone()  # fmt: skip
    assert held is not None and held["n"] == 0
