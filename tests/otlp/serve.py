"""A real `vigil serve-otlp` process for the tests: started on a free port, waited for until
it answers /health, and stopped (and reaped) whatever the test does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port
from vigil.testing.workers import stop_process

START_TIMEOUT_S = 60


@contextmanager
def serve_otlp(db_url: str, home: Path, **settings: str) -> Iterator[tuple[int, str]]:
    """The receiver's pid and base URL; ``settings`` are more VIGIL_* variables."""
    port = free_port()
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_HOME": str(home),
           "VIGIL_OTLP_PORT": str(port), **settings}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve-otlp"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, "vigil serve-otlp exited"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "vigil serve-otlp did not start"
            time.sleep(0.2)
        yield proc.pid, url
    finally:
        stop_process(proc)
