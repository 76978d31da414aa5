"""Run untrusted generated code against its tests in a subprocess, for code pass@1.

A fresh isolated interpreter (``python -I -S``) in a temporary directory, an empty
environment, rlimits (memory, CPU, file size, processes), a wall-clock timeout that kills
the whole process group, capped output. ``namespaces`` mode adds ``unshare``: no network, a
PID namespace that dies with its first process, the project, home and shared temporary
folders hidden, root dropped to ``nobody``, and every capability given up for good before the
program runs (or it does not run), so that the hiding cannot be undone. ``guarded`` mode,
where namespaces are not permitted, only patches the interpreter against accidents: it is
not a security boundary.
A program passes if it exits with 0 *and* the harness saw ``check()`` return (a per-run token
written after it), so an early ``sys.exit(0)`` fails. See docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Mode = Literal["namespaces", "guarded"]
Status = Literal["passed", "failed", "timeout", "error"]
PROCESS_MARKER = "vigil-sandbox"  # in every sandbox process's command line
NOBODY = 65534
_INTERPRETER = os.path.realpath(sys.executable)  # the base interpreter, not the venv's link
_PROJECT = Path(__file__).resolve().parents[1]
_SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")
_STATUS_CAP = 256
_DETAIL_CHARS = 400
_COLUMN_ZERO = re.compile(r"(?:async\s+def|def|class|import|from)\b|@")
# Runs first in the sandbox's interpreter, handed over with -c (-I -S: see that file).
_WRAPPER = Path(__file__).with_name("_sandbox_child.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Limits:
    """What one program may use. ``max_processes`` counts threads too, per sandbox (as root,
    per ``nobody`` user: concurrent sandboxes share it)."""

    timeout_s: float = 10.0
    memory_mb: int = 512  # address space of each process
    max_processes: int = 8
    max_output_bytes: int = 64_000  # of stdout and of stderr each; the rest is discarded
    max_file_bytes: int = 16 * 2**20  # each file the program writes

    def __post_init__(self) -> None:
        bad = [f"{name}={value}" for name, value in vars(self).items() if not value > 0]
        if bad:
            raise ValueError(f"sandbox limits must be positive, got {', '.join(bad)}")


@dataclass(frozen=True)
class Outcome:
    """How a program ran: ``error`` means the sandbox itself failed, never the program."""

    passed: bool
    status: Status
    detail: str  # the reason, or the last lines of stderr
    duration_s: float
    mode: Mode


def program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program to run. A completion is either the body continuing the prompt's function
    or a whole new definition at column 0 (which overrides the prompt's stub)."""
    if prompt and not prompt.endswith("\n") and _COLUMN_ZERO.match(completion):
        prompt += "\n"
    return f"{prompt}{completion}\n\n{test}\n\ncheck({entry_point})\n"


_probe_lock = threading.Lock()
_probed: list[Mode] = []  # the probe's answer, once per process


def sandbox_mode() -> Mode:
    """``namespaces`` if this machine lets us create them (probed once, by running a real
    program), else ``guarded``."""
    with _probe_lock:
        if not _probed:
            _probed.append(_probe())
        return _probed[0]


def _probe() -> Mode:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        log.warning("sandbox: no unshare on this system; code runs in the weaker guarded mode")
        return "guarded"
    outcome = run_program("import json, math\nassert __name__ == '__main__'\n", mode="namespaces")
    if outcome.passed:
        return "namespaces"
    log.warning(
        "sandbox: Linux namespaces are not permitted here (%s); code runs in the weaker "
        "guarded mode. Allow user namespaces (or run with CAP_SYS_ADMIN) for isolation.",
        outcome.detail,
    )
    return "guarded"


def run_program(source: str, limits: Limits = Limits(), mode: Mode | None = None) -> Outcome:
    """Run ``source`` in a sandbox and say whether it completed. Safe from several threads."""
    mode = mode or sandbox_mode()
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix=f"{PROCESS_MARKER}-")
    try:
        path = os.path.join(workdir, "program.py")
        Path(path).write_text(source, encoding="utf-8")
        as_nobody = mode == "namespaces" and os.geteuid() == 0
        if as_nobody:
            os.chown(workdir, NOBODY, NOBODY)
        status, detail = _run(path, workdir, limits, mode, as_nobody, started)
    except OSError as err:
        status, detail = "error", f"could not start the sandbox: {err}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return Outcome(status == "passed", status, detail, time.monotonic() - started, mode)


def _run(
    path: str, workdir: str, limits: Limits, mode: Mode, as_nobody: bool, started: float
) -> tuple[Status, str]:
    token = secrets.token_hex(16)
    read_end, write_end = os.pipe()
    config = {
        "token": token,
        "fd": write_end,
        "path": path,
        "limits": _rlimits(limits),
        "drop": mode == "namespaces",  # every capability, for good; fails closed
        "uid": NOBODY if as_nobody else None,
        "guard": mode == "guarded",
        **_hiding(workdir, limits, mode),
    }
    command = [_INTERPRETER, "-I", "-S", "-c", _WRAPPER, PROCESS_MARKER]
    if mode == "namespaces":
        command = [*_unshare(), *command]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir,
           "TMPDIR": workdir}  # fmt: skip
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=workdir, env=env, pass_fds=(write_end,), start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(write_end)
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        with contextlib.suppress(OSError):  # it died before reading it: stderr says why
            proc.stdin.write(marshal.dumps(config))
            proc.stdin.close()
        deadline = started + limits.timeout_s
        errors = proc.stderr.fileno()
        caps = {proc.stdout.fileno(): limits.max_output_bytes, errors: limits.max_output_bytes}
        out = _collect({**caps, read_end: _STATUS_CAP}, deadline)
        exited = _exited(proc.pid, deadline)
    finally:
        _kill_group(proc.pid)  # the pid is not reused before the wait below reaps it
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        os.close(read_end)
    stderr = out[errors].decode("utf-8", "replace")
    report = out[read_end]
    if not exited:
        return "timeout", f"no result within {limits.timeout_s:g} s; killed"
    if proc.returncode == 0 and report == b"R" + token.encode():
        return "passed", ""
    if not report.startswith(b"R"):
        return "error", f"the sandbox did not start: {_tail(stderr) or _signal(proc.returncode)}"
    if proc.returncode == 0:
        return "failed", "the program exited before check() returned"
    return "failed", _tail(stderr) or _signal(proc.returncode)


def _rlimits(limits: Limits) -> dict[str, list[int]]:
    cpu = int(limits.timeout_s) + 1  # a backstop: the wall-clock timeout acts first
    return {
        "RLIMIT_AS": [limits.memory_mb * 2**20] * 2,
        "RLIMIT_CPU": [cpu, cpu + 1],
        "RLIMIT_FSIZE": [limits.max_file_bytes] * 2,
        "RLIMIT_CORE": [0, 0],
        "RLIMIT_NPROC": [limits.max_processes] * 2,
    }


def _unshare() -> list[str]:
    unshare = shutil.which("unshare") or "unshare"
    command = [unshare, "--net", "--pid", "--mount", "--fork", "--mount-proc", "--kill-child"]
    if os.geteuid() != 0:
        command.append("--map-root-user")  # root of a user namespace of its own
    return [*command, "--"]


def _hiding(workdir: str, limits: Limits, mode: Mode) -> dict[str, object]:
    """Directories to cover with an empty private tmpfs (the project, the home directory, the
    shared temporary ones) and those inside them to bind back: the interpreter read-only, the
    working directory writable."""
    if mode != "namespaces":
        return {"hide": [], "keep": []}
    interpreter = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    keep = {**{p: True for p in interpreter}, os.path.realpath(workdir): False}
    folders = {str(_PROJECT), os.path.realpath(Path.home()), *_SHARED_TMP}
    hide: list[str] = []
    for folder in sorted(folders, key=len):
        covered = any(_within(folder, h) for h in [*hide, *keep])
        if folder != "/" and os.path.isdir(folder) and not covered:
            hide.append(folder)
    return {
        "hide": hide,
        "keep": [[k, ro] for k, ro in sorted(keep.items()) if any(_within(k, h) for h in hide)],
        "tmpfs_bytes": limits.max_file_bytes,
    }


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _collect(caps: dict[int, int], deadline: float) -> dict[int, bytes]:
    """Read each pipe until it closes or the deadline passes, keeping the last ``cap`` bytes
    of each: a program printing forever fills no memory."""
    kept = {fd: bytearray() for fd in caps}
    with selectors.DefaultSelector() as selector:
        for fd in caps:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                buf = kept[key.fd]
                buf += chunk
                del buf[: max(0, len(buf) - caps[key.fd])]
    return {fd: bytes(buf) for fd, buf in kept.items()}


def _exited(pid: int, deadline: float) -> bool:
    """Wait until the process exits, leaving it unreaped (so its pid, which names its
    process group, cannot be reused before the group is killed)."""
    pause = 0.001
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return True


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-3:])[-_DETAIL_CHARS:]


def _signal(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        why = {"SIGXCPU": " (CPU time limit)", "SIGXFSZ": " (file size limit)"}.get(name, "")
        return f"killed by {name}{why}"
    return f"exit code {returncode} and no message"
