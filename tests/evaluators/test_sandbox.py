"""The code sandbox: right code passes, wrong or hostile code fails cleanly, nothing is left.

Hostile programs run in both modes (namespaces where this machine permits them); each is
followed by the right answer, so it would pass if the sandbox let the hostile part through,
and its failure must name the cause. Every test points ``tempfile`` at its own folder, so
that a process left behind is recognised by its working directory and checked for at the end
of the test.
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evaluators import sandbox
from evaluators.sandbox import Limits, Mode, Outcome, program, run_program, sandbox_mode
from tests.evaluators.code_problems import PROBLEMS, Problem, without_last_line

# Sandboxes work under the test's own folder, and none may outlive the test.
pytestmark = pytest.mark.usefixtures("own_tempdir")
FAST = Limits(timeout_s=5.0)
PROJECT = Path(__file__).resolve().parents[2]
GUARD = "blocked by the Vigil sandbox guard"
EARLY = r"the program exited before check\(\) returned"
NO_NETWORK = r"Temporary failure in name resolution|Network is unreachable"  # no resolver
# A hostile start (followed in the test by the right answer, so that the program would pass if
# the sandbox let it through) and the cause its failure must name in namespaces mode and in
# guarded mode. Only a failure ends the fork bomb, whose children's tracebacks interleave: had
# no fork failed, it would time out.
HOSTILE: dict[str, tuple[str, str, str]] = {
    "fork bomb": ("    import os\n    while True:\n        os.fork()\n", "", ""),
    "10 GB allocation": ("    x = bytearray(10 * 2**30)\n", "^MemoryError$", "^MemoryError$"),
    "socket": (
        "    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=5)\n",
        r"OSError: \[Errno 101\] Network is unreachable",
        GUARD,
    ),
    "urllib": (
        "    import urllib.request as r\n    r.urlopen('http://example.com', timeout=5)\n",
        rf"URLError: <urlopen error .*({NO_NETWORK})",
        GUARD,
    ),
    "os._exit(0) early": ("    import os\n    os._exit(0)\n", EARLY, EARLY),
    "sys.exit(0) early": ("    import sys\n    sys.exit(0)\n", EARLY, EARLY),
    "kill the evaluator": (
        f"    import os\n    os.kill({os.getpid()}, 9)\n",  # this process
        "ProcessLookupError",
        GUARD,
    ),
    "threads forever": (
        "    import threading\n    while True:\n        threading.Thread("
        "target=lambda: threading.Event().wait()).start()\n",
        "can't start new thread",
        "can't start new thread",
    ),
}


@pytest.fixture(params=["namespaces", "guarded"])
def mode(request: pytest.FixtureRequest) -> Mode:
    if request.param == "namespaces" and sandbox_mode() != "namespaces":
        pytest.skip(
            "Linux namespaces are not permitted here (unshare --net --pid --mount failed): "
            "only the guarded mode is tested; allow user namespaces to test isolation"
        )
    return request.param


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
    hostile, in_namespaces, guarded = HOSTILE[case]
    problem = PROBLEMS[0]
    outcome = run_program(source(problem, hostile + problem["canonical_solution"]),
                          Limits(timeout_s=3.0), mode)  # fmt: skip
    assert (outcome.passed, outcome.status) == (False, "failed"), outcome
    assert outcome.duration_s < 3.0
    assert outcome.detail
    cause = in_namespaces if mode == "namespaces" else guarded
    assert re.search(cause, outcome.detail, re.MULTILINE), outcome.detail


def test_the_same_program_passes_when_what_it_asks_is_allowed(mode: Mode) -> None:
    """The controls of the hostile cases: their structure passes without the hostile part."""
    problem = PROBLEMS[0]
    allowed = ["    x = bytearray(10 * 2**20)\n", "    import os\n    os.getpid()\n", ""]
    outcomes = [run_program(source(problem, start + problem["canonical_solution"]), FAST, mode)
                for start in allowed]  # fmt: skip
    assert [o.status for o in outcomes] == ["passed"] * len(allowed), outcomes


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
