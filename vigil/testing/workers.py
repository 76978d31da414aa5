"""Prefect process workers for the tests and benchmarks of the work-pool path: started on
the ``vigil-process`` pool from the Vigil folder, stopped with every flow-run process they
started, or killed at once with them, as when their host dies."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]  # where prefect.yaml is; workers run flows here
POOL = "vigil-process"
START_TIMEOUT_S = 120.0


def start_worker(env: dict[str, str], log: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    """``prefect worker start --pool vigil-process --name NAME ARGS``, its output appended to
    ``log``; returns once the worker says it started."""
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", name,
             *args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while f"Worker {name!r} started!" not in log.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            stop_worker(worker)
            raise RuntimeError(f"worker {name} did not start; see {log}")
        time.sleep(0.5)
    return worker


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker, SIGKILL it after 30 s; then SIGKILL any flow-run process of its
    that is left."""
    started = _descendants(worker.pid)
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
    when their host dies). Returns the pids killed."""
    with contextlib.suppress(psutil.Error):
        return _kill([psutil.Process(pid), *_descendants(pid)])
    return []


def _descendants(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return list(psutil.Process(pid).children(recursive=True))
    return []


def _kill(processes: list[psutil.Process]) -> list[int]:
    killed = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
            killed.append(process.pid)
    return killed
