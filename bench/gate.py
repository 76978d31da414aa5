"""The code sandbox on HumanEval (../shared/data/humaneval; skipped when it is absent).

Correctness: all 164 canonical solutions must pass; every solution without its last
non-blank line must fail; on a few problems, hostile completions (an infinite loop, a fork
bomb, a 10 GB allocation, a network call, each followed by the canonical solution, so that it
would pass if let through) must fail cleanly, for their cause (the timeout, ``MemoryError``,
the network refused), and no sandbox process may outlive its run. Each count is set beside
the expected count, in each sandbox mode.

Speed: canonical programs per second, ``WORKERS`` at a time, for our sandbox in both modes
beside (a) a bare ``subprocess.run([sys.executable, file])`` with a timeout and no
isolation, (a') the same with ``-I -S`` (the cost of a fresh isolated interpreter alone),
(b) human-eval's in-process approach (fork, ``reliability_guard``, ``exec``), rewritten here
in a few lines. Best of ``VIGIL_BENCH_GATE_REPEATS`` interleaved rounds.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

from bench import Row
from evaluators.sandbox import PROCESS_MARKER, Limits, Mode, program, run_program, sandbox_mode

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "humaneval" / "HumanEval.jsonl.gz"
REPEATS = int(os.environ.get("VIGIL_BENCH_GATE_REPEATS", "2"))
WORKERS = min(4, os.cpu_count() or 1)
TIMEOUT_S = 10.0
HOSTILE_TIMEOUT_S = 2.0
HOSTILE_ON = 8  # problems
# A hostile start (the canonical solution follows it) and a pattern the outcome's detail must
# match: the timeout, or the failure it caused.
HOSTILE = {
    "infinite loop": ("    while True:\n        pass\n", "no result within"),
    "fork bomb": ("    import os\n    while True:\n        os.fork()\n", ""),
    "10 GB allocation": ("    bytearray(10 * 2**30)\n", "MemoryError"),
    "network call": (
        "    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=5)\n",
        "Network is unreachable|blocked by the Vigil sandbox guard",
    ),
}
Runner = Callable[[str], bool]


def run() -> list[Row]:
    if not DATA.is_file():
        print(f"bench.gate skipped: no HumanEval at {DATA}", file=sys.stderr)
        return []
    with gzip.open(DATA, "rt", encoding="utf-8") as lines:
        problems = [json.loads(line) for line in lines]
    canonical = [_source(p, p["canonical_solution"]) for p in problems]
    modes: list[Mode] = ["namespaces", "guarded"] if sandbox_mode() == "namespaces" else ["guarded"]
    print(f"bench.gate: {len(problems)} problems, {WORKERS} at a time, sandbox modes "
          f"{', '.join(modes)}", file=sys.stderr)  # fmt: skip
    rows = []
    for mode in modes:
        with _own_tempdir() as folder:
            rows += _correctness(problems, canonical, mode, folder)
    rows += _speed(canonical, modes)
    return rows


def _source(problem: dict[str, Any], completion: str) -> str:
    return program(problem["prompt"], completion, problem["test"], problem["entry_point"])


def _truncated(solution: str) -> str:
    return "".join(solution.rstrip().splitlines(keepends=True)[:-1])


def _correctness(
    problems: list[dict[str, Any]], canonical: list[str], mode: Mode, folder: str
) -> list[Row]:
    def ours(limits: Limits) -> Callable[[str], str]:
        return lambda text: run_program(text, limits, mode).status

    def hostile(text: str) -> tuple[str, str]:
        outcome = run_program(text, Limits(timeout_s=HOSTILE_TIMEOUT_S), mode)
        return outcome.status, outcome.detail

    normal = ours(Limits(timeout_s=TIMEOUT_S))
    n = len(problems)
    rows = [
        Row("gate", f"{mode}: canonical solutions (n={n})", "passed",
            _map(normal, canonical).count("passed"), "expected", n),
        Row("gate", f"{mode}: last line removed (n={n})", "failed",
            _map(normal, [_source(p, _truncated(p["canonical_solution"])) for p in problems])
            .count("failed"), "expected", n),
    ]  # fmt: skip
    chosen = problems[:: max(1, n // HOSTILE_ON)][:HOSTILE_ON]
    for case, (start, cause) in HOSTILE.items():
        results = _map(hostile, [_source(p, start + p["canonical_solution"]) for p in chosen])
        clean = sum(s in ("failed", "timeout") and bool(re.search(cause, d)) for s, d in results)
        print(f"bench.gate: {mode}, {case}: {sorted({s for s, _ in results})}", file=sys.stderr)
        rows.append(Row("gate", f"{mode}: {case} (n={len(chosen)})", "failed cleanly", clean,
                        "expected", len(chosen)))  # fmt: skip
    rows.append(Row("gate", f"{mode}: after all runs", "sandbox processes left", _left(folder),
                    "expected", 0, higher_is_better=False))  # fmt: skip
    return rows


def _map(fn: Callable[[str], Any], items: list[str]) -> list[Any]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(fn, items))


@contextlib.contextmanager
def _own_tempdir() -> Iterator[str]:
    """Sandboxes work in a folder of their own, so that one left running is recognised."""
    saved, tempfile.tempdir = tempfile.tempdir, tempfile.mkdtemp(prefix="bench-gate-")
    try:
        yield tempfile.tempdir
    finally:
        shutil.rmtree(tempfile.tempdir, ignore_errors=True)
        tempfile.tempdir = saved


def _left(folder: str) -> int:
    """Sandbox processes still running from ``folder`` after a grace period (the kernel
    tears a killed PID namespace down just after its first process)."""
    time.sleep(1.0)
    found = 0
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if PROCESS_MARKER in (proc.info["cmdline"] or []):
                places = (proc.cwd(), proc.environ().get("HOME", ""))
                found += any(place.startswith(folder) for place in places)
    return found


def _speed(canonical: list[str], modes: list[Mode]) -> list[Row]:
    limits = Limits(timeout_s=TIMEOUT_S)
    runners: dict[str, Runner] = {
        **{f"ours, {m}": _ours(limits, m) for m in modes},
        "bare subprocess": lambda text: _bare(text, []),
        "bare subprocess -I -S": lambda text: _bare(text, ["-I", "-S"]),
        "human-eval style (fork, guard, exec)": _humaneval_style,
    }
    best: dict[str, float] = {}
    for _ in range(REPEATS):  # interleaved, so that a busy spell hits every runner alike
        for name, runner in runners.items():
            started = time.perf_counter()
            passed = sum(_map(runner, canonical))
            rate = len(canonical) / (time.perf_counter() - started)
            print(f"bench.gate: {name}: {rate:.1f} programs/s, {passed} passed", file=sys.stderr)
            best[name] = max(best.get(name, 0.0), rate)
    case = f"HumanEval canonical, {WORKERS} at a time"
    peers = [name for name in runners if not name.startswith("ours")]
    return [
        Row("gate", case, f"programs/s, ours {m}", best[f"ours, {m}"], peer, best[peer])
        for m in modes
        for peer in peers
    ]


def _ours(limits: Limits, mode: Mode) -> Runner:
    return lambda text: run_program(text, limits, mode).passed


def _bare(text: str, flags: list[str]) -> bool:
    """Peer (a): a fresh interpreter on a file, a timeout, nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "program.py")
        path.write_text(text, encoding="utf-8")
        try:
            done = subprocess.run([sys.executable, *flags, str(path)], cwd=folder,
                                  capture_output=True, timeout=TIMEOUT_S)  # fmt: skip
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0


def _humaneval_style(text: str) -> bool:
    """Peer (b), after openai/human-eval's execution.py: fork, guard, exec, result by pipe."""
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    folder = tempfile.mkdtemp()
    child = context.Process(target=_humaneval_child, args=(text, folder, writer))
    child.start()
    writer.close()
    child.join(TIMEOUT_S + 1)
    if child.is_alive():
        child.kill()
        child.join()
    shutil.rmtree(folder, ignore_errors=True)
    return bool(reader.poll() and reader.recv() == "passed")


def _humaneval_child(text: str, folder: str, writer: Connection) -> None:
    os.chdir(folder)
    _reliability_guard(512 * 2**20)

    def alarm(*_: object) -> None:
        raise TimeoutError("timed out")

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
    result = "failed"
    with contextlib.suppress(BaseException):
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            exec(text, {"__name__": "__main__"})
        result = "passed"
    signal.setitimer(signal.ITIMER_REAL, 0)
    writer.send(result)


def _reliability_guard(max_bytes: int) -> None:
    """human-eval's guard, in short: memory limits and destructive functions disabled."""
    import builtins
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))
    builtins.exit = builtins.quit = None  # type: ignore[assignment]
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir",
                 "setuid", "fork", "forkpty", "killpg", "rename", "renames", "truncate",
                 "replace", "unlink", "fchmod", "fchown", "chmod", "chown", "chroot", "lchown",
                 "getcwd", "chdir"):  # fmt: skip
        setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None  # type: ignore[assignment]
    subprocess.Popen = None  # type: ignore[assignment,misc]
    for module in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[module] = None  # type: ignore[assignment]


if __name__ == "__main__":
    from bench import table

    print(table(run()))
