"""A Prefect server and process workers of its own, for the work-pool tests."""

from __future__ import annotations

import os
import signal
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


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``prefect worker start --pool vigil-process ARGS``, its output in ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "vigil-process",
             *args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Stop a worker; a flow run it left behind is killed."""
    started = process_tree(worker.pid)
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
    _kill(started)


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and every process under it at once (a worker and its flow runs, as
    when its host dies). Returns the pids killed."""
    return _kill(process_tree(pid))


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def _kill(pids: list[int]) -> list[int]:
    killed = []
    for each in pids:
        try:
            os.kill(each, signal.SIGKILL)
            killed.append(each)
        except ProcessLookupError:
            continue
    return killed
