"""A Prefect process work pool for the benchmarks: the ``vigil`` command in a subprocess, and
workers (:mod:`vigil.testing.workers`, which the tests use too)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from vigil.testing.workers import ROOT, start_worker, stop_worker


def vigil(args: list[str], env: dict[str, str], log: Path, timeout: float = 1800) -> None:
    """``vigil ARGS`` in a subprocess, its output appended to ``log``; raises when it fails."""
    with log.open("ab") as out:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *args], env=env, cwd=ROOT, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"`vigil {' '.join(args)}` exited {done.returncode}; log {log}:\n{tail}")


@contextlib.contextmanager
def workers(
    env: dict[str, str], folder: Path, specs: Sequence[tuple[str, tuple[str, ...]]]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Workers ``(name, args)``, each logging to ``folder/NAME.log``, stopped on the way out."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in specs:
            started.append(start_worker(env, folder / f"{name}.log", name, *args))
        yield started
    finally:
        for worker in started:
            stop_worker(worker)
