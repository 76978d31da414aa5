"""The code sandbox: right code passes, wrong or hostile code fails cleanly, nothing is left.

Hostile programs run in both modes (namespaces where this machine permits them). Every test
points ``tempfile`` at its own folder, so that a process left behind is recognised by its
working directory and checked for at the end of the test.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from evaluators import sandbox
from evaluators.sandbox import Limits, Mode, Outcome, program, run_program, sandbox_mode
from tests.evaluators.code_problems import PROBLEMS, Problem, without_last_line

FAST = Limits(timeout_s=5.0)
PROJECT = Path(__file__).resolve().parents[2]
HOSTILE = {
    "fork bomb": "    import os\n    while True:\n        os.fork()\n",
    "10 GB allocation": "    x = bytearray(10 * 2**30)\n    return x\n",
    "socket": "    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=5)\n",
    "urllib": "    import urllib.request as r\n    r.urlopen('http://example.com', timeout=5)\n",
    "os._exit(0) early": "    import os\n    os._exit(0)\n",
    "sys.exit(0) early": "    import sys\n    sys.exit(0)\n",
    "kill the parent": "    import os\n    os.kill(os.getppid(), 9)\n",
    "threads forever": "    import threading\n    while True:\n        threading.Thread("
    "target=lambda: threading.Event().wait()).start()\n",
}


@pytest.fixture(params=["namespaces", "guarded"])
def mode(request: pytest.FixtureRequest) -> Mode:
    if request.param == "namespaces" and sandbox_mode() != "namespaces":
        pytest.skip(
            "Linux namespaces are not permitted here (unshare --net --pid --mount failed): "
            "only the guarded mode is tested; allow user namespaces to test isolation"
        )
    return request.param


@pytest.fixture(autouse=True)
def own_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Sandboxes of this test work under its tmp_path; none may outlive the test."""
    folder = tmp_path / "sandboxes"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    assert left_running(folder) == [], "sandbox processes outlived run_program"
    assert list(folder.iterdir()) == [], "a working directory was not removed"


def left_running(folder: Path, grace_s: float = 3.0) -> list[str]:
    """Processes whose working directory or HOME is a sandbox folder under ``folder``
    (the kernel may take a moment to tear a killed PID namespace down)."""
    deadline = time.monotonic() + grace_s
    while True:
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                if sandbox.PROCESS_MARKER not in " ".join(proc.info["cmdline"] or []):
                    continue
                places = [proc.cwd(), proc.environ().get("HOME", "")]
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            if any(place.startswith(str(folder)) for place in places):
                found.append(f"{proc.info['pid']}: {places}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def source(problem: Problem, completion: str | None = None) -> str:
    body = problem["canonical_solution"] if completion is None else completion
    return program(problem["prompt"], body, problem["test"], problem["entry_point"])


def test_program_continues_a_body_or_overrides_the_stub() -> None:
    stub = "def add(a, b):\n    '''Add.'''"  # no newline at the end
    test = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
    body = program(stub + "\n", "    return a + b\n", test, "add")
    redefined = program(stub, "def add(a, b):\n    return a + b\n", test, "add")
    assert body.endswith("\n\ncheck(add)\n")
    assert "'''Add.'''\ndef add(a, b):" in redefined
    for text in (body, redefined):
        compile(text, "program.py", "exec")


def test_canonical_solutions_pass(mode: Mode) -> None:
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda p: run_program(source(p), FAST, mode), PROBLEMS))
    assert [o.status for o in outcomes] == ["passed"] * len(PROBLEMS), outcomes
    assert all(o.passed and o.mode == mode for o in outcomes)


@pytest.mark.parametrize("problem", PROBLEMS[:3], ids=lambda p: p["entry_point"])
def test_wrong_or_truncated_code_fails(problem: Problem, mode: Mode) -> None:
    truncated = run_program(source(problem, without_last_line(problem["canonical_solution"])),
                            FAST, mode)  # fmt: skip
    wrong = run_program(source(problem, "    return 42\n"), FAST, mode)
    broken = run_program(source(problem, "    return (\n"), FAST, mode)
    for outcome in (truncated, wrong, broken):
        assert (outcome.passed, outcome.status) == (False, "failed"), outcome
    assert "AssertionError" in wrong.detail
    assert "SyntaxError" in broken.detail


def test_a_hanging_program_times_out_and_is_killed(mode: Mode) -> None:
    hang = (  # the child hangs too, unless the guard blocks fork
        "    import os\n    try:\n        os.fork()\n    except PermissionError:\n        pass\n"
        "    while True:\n        pass\n"
    )
    started = time.monotonic()
    outcome = run_program(source(PROBLEMS[0], hang), Limits(timeout_s=1.0), mode)
    assert (outcome.passed, outcome.status) == (False, "timeout"), outcome
    assert "1 s" in outcome.detail
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_programs_fail_cleanly(case: str, mode: Mode) -> None:
    outcome = run_program(source(PROBLEMS[0], HOSTILE[case]), Limits(timeout_s=3.0), mode)
    assert (outcome.passed, outcome.status) == (False, "failed"), outcome
    assert outcome.duration_s < 3.0
    assert outcome.detail


def test_the_environment_holds_no_secret(mode: Mode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_SECRET_PROBE", "x")
    check = "import os\nassert 'VIGIL_SECRET_PROBE' not in os.environ, dict(os.environ)\n"
    assert run_program(check, FAST, mode).passed


def test_the_working_directory_is_fresh_and_removed(mode: Mode, own_tempdir: Path) -> None:
    report = ("import os\nfiles = sorted(os.listdir('.'))\nopen('out.txt', 'w').write('x')\n"
              "raise SystemExit(f'{os.getcwd()} {files}')\n")  # fmt: skip
    outcome = run_program(report, FAST, mode)
    cwd, files = outcome.detail.split(" ", 1)
    assert Path(cwd).parent == own_tempdir and files == "['program.py']"
    assert not Path(cwd).exists()


def test_output_is_capped_and_a_chatty_program_still_passes(mode: Mode) -> None:
    chatty = "import sys\nfor _ in range(2000):\n    print('x' * 5000)\nsys.stderr.write('end')\n"
    outcome = run_program(chatty, Limits(timeout_s=5.0, max_output_bytes=1000), mode)
    assert outcome.passed, outcome
    forever = run_program("while True:\n    print('x' * 5000)\n", Limits(timeout_s=1.0), mode)
    assert forever.status == "timeout"


def test_namespaces_hide_the_project_the_host_and_the_network() -> None:
    if sandbox_mode() != "namespaces":
        pytest.skip("Linux namespaces are not permitted here: nothing to check")
    escape = PROJECT / "sandbox-escape.txt"
    probe = (
        "import os, socket\n"
        f"assert not os.path.exists({str(PROJECT / 'pyproject.toml')!r}), 'project visible'\n"
        "assert [p for p in os.listdir('/proc') if p.isdigit()] == ['1'], 'host processes'\n"
        "try:\n"
        f"    open({str(escape)!r}, 'w').write('x')\n"
        "except OSError:\n"
        "    pass\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
        "    raise SystemExit('loopback reachable')\n"
        "except OSError:\n"
        "    pass\n"
    )
    outcome = run_program(probe, FAST, "namespaces")
    assert outcome.passed, outcome
    assert not escape.exists()


def test_concurrent_runs_from_threads_keep_their_results(mode: Mode) -> None:
    cases = [(source(p), True) for p in PROBLEMS] + [
        (source(p, "    return None\n"), False) for p in PROBLEMS
    ]

    def run(case: tuple[str, bool]) -> tuple[Outcome, bool]:
        return run_program(case[0], FAST, mode), case[1]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, cases))
    assert [o.passed for o, _ in results] == [expected for _, expected in results]


def test_a_broken_sandbox_is_an_error_not_a_failure(
    mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_mode()  # probed with the real interpreter, before it is broken
    monkeypatch.setattr(sandbox, "_INTERPRETER", "/nonexistent/python3")
    outcome = run_program("pass\n", FAST, mode)
    assert (outcome.passed, outcome.status) == (False, "error"), outcome
    assert "nonexistent" in outcome.detail


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout_s=0"):
        Limits(timeout_s=0)
