"""CPU seconds of processes, read from ``/proc`` (Linux).

``/proc/PID/schedstat`` counts nanoseconds, but of the process's main thread only: right
for a PostgreSQL backend, blind to a receiver's worker threads. ``/proc/PID/stat`` counts
every thread's (``utime`` + ``stime``), in 10 ms ticks, and the reaped children's
(``cutime`` + ``cstime``): a process tree is read from there, so that a PostgreSQL backend
or autovacuum worker that exited during a run is still counted, by the postmaster that
reaped it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds of a single-threaded live process (``/proc/PID/schedstat``), to the
    nanosecond: a PostgreSQL backend's share of a 0.3 s statement."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (state is the first)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """``root`` and its live descendants."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry))[1]), []).append(int(entry))
            except (OSError, ValueError, IndexError):  # exited meanwhile
                continue
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def tree_cpu(root: int, without: tuple[int, ...] = ()) -> float:
    """CPU seconds of ``root``, its live descendants (all threads) and the children they
    reaped; the processes in ``without`` (and what they reaped) left out."""
    total = 0
    for pid in tree(root):
        if pid in without:
            continue
        try:
            total += sum(int(t) for t in _stat_fields(pid)[11:15])  # u, s, cu, cs time
        except (OSError, ValueError):  # exited meanwhile: its parent now counts it
            continue
    return total / _TICKS


def wait_idle(root: int, busy: float = 0.02, window: float = 0.5, timeout: float = 60.0) -> None:
    """Wait until ``root``'s tree uses under ``busy`` CPU seconds in a ``window``: a server
    that answers its health check may still be starting workers."""
    deadline = time.monotonic() + timeout
    last = tree_cpu(root)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = tree_cpu(root)
        if now - last < busy:
            return
        last = now
    raise RuntimeError(f"process {root} stayed busy for {timeout:.0f} s")
