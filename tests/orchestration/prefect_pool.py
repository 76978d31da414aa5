"""A Prefect server of its own, for the work-pool tests (workers: vigil.testing.workers)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def prefect_server(home: Path, db_url: str, **extra: str) -> Iterator[dict[str, str]]:
    """A Prefect server (SQLite under ``home``); yields the environment pointing at it."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "VIGIL_DATABASE_URL": db_url,
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "VIGIL_PREFECT_PORT": str(port),
           "PREFECT_WORKER_QUERY_SECONDS": "1", **extra}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the Prefect server did not start"
                time.sleep(0.5)
        yield env
    finally:
        server.terminate()
        server.wait(30)
