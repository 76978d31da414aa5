"""The suite leaves nothing running: a check after the last fixture is torn down.

Every PostgreSQL, Prefect, Streamlit or receiver process that the tests started must have
been stopped by the fixture that started it. The check runs at the very end of the session
(``pytest_sessionfinish``, after session fixtures are finalised) and fails the run, naming
each process still alive, when one is found.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

# The servers a test may start, by command line: the embedded PostgreSQL's postmaster, the
# Prefect server, worker and runner, Streamlit, and the OTLP receiver.
SERVERS = (
    ("postgres", "-D"),
    ("prefect", "server start"),
    ("prefect", "worker start"),
    ("flows.serve",),
    ("streamlit", "run"),
    ("serve-otlp",),
    ("cli.metrics", "serve"),
)
GRACE_S = 15.0  # a fixture's stop may return before the process is reaped


@dataclass(frozen=True)
class Leftover:
    pid: int
    cmdline: str


def is_server(cmdline: str) -> bool:
    return any(all(part in cmdline for part in parts) for parts in SERVERS)


def servers() -> dict[int, str]:
    """The server processes alive now, by pid."""
    found: dict[int, str] = {}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if is_server(cmdline):
            found[proc.info["pid"]] = cmdline
    return found


def ours(pid: int, marks: Iterable[str]) -> bool:
    """Started by this test session: a descendant of this process, or one that names the
    session's temporary folder (daemons such as PostgreSQL are re-parented to init)."""
    try:
        proc = psutil.Process(pid)
        if any(p.pid == os.getpid() for p in proc.parents()):
            return True
        text = " ".join([*proc.cmdline(), proc.cwd(), *proc.environ().values()])
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return any(mark in text for mark in marks)


def leftovers(before: dict[int, str], marks: list[str], grace_s: float = GRACE_S) -> list[Leftover]:
    """Servers started since ``before`` that are still alive after ``grace_s``."""
    deadline = time.monotonic() + grace_s
    while True:
        alive = [
            Leftover(pid, cmd)
            for pid, cmd in servers().items()
            if pid not in before and ours(pid, marks)
        ]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.5)
