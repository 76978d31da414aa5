"""The embedded server: start, stop, restart, and recovery after kill -9."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psycopg

from tests.conftest import free_port
from vigil.db.embedded import EmbeddedServer


def _select_one(server: EmbeddedServer) -> int:
    with psycopg.connect(server.url("postgres")) as conn:
        row = conn.execute("SELECT 1").fetchone()
        assert row is not None
        return int(row[0])


def test_lifecycle_and_recovery_after_kill(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "home", "127.0.0.1", free_port())
    assert not server.status().running
    status = server.start()
    assert status.running and status.port == server.port
    assert _select_one(server) == 1
    # Over the unix socket too.
    sock = status.socket_dir
    assert sock is not None and (sock / f".s.PGSQL.{server.port}").exists()
    with psycopg.connect(host=str(sock), port=server.port, user="postgres", dbname="postgres") as c:
        assert c.execute("SELECT 2").fetchone() == (2,)

    # A second start is a no-op on the running server.
    assert server.start().pid == status.pid

    # kill -9 leaves a stale postmaster.pid and socket lock; start must recover.
    assert status.pid is not None
    os.kill(status.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server.status().running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (server.pgdata / "postmaster.pid").exists()
    restarted = server.start()
    assert restarted.running and restarted.pid != status.pid
    assert _select_one(server) == 1

    assert server.stop() is True
    assert not server.status().running
    assert server.stop() is False
