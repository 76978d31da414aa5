"""The code sandbox: right code passes, wrong or hostile code fails cleanly, nothing is left.

Hostile programs run in both modes (namespaces where this machine permits them); each is
followed by the right answer, so it would pass if the sandbox let the hostile part through,
and its failure must name the cause. Every test points ``tempfile`` at its own folder, so
that a process left behind is recognised by its working directory and checked for at the end
of the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
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


# Tries to undo the hiding, directly, after re-executing the interpreter (root of a user
# namespace regains every capability on execve unless they are gone for good) and in a nested
# user namespace of its own; then reports, as JSON on stderr, what worked and what it sees.
ESCAPE = r"""
import ctypes, json, os, shutil, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
done, tried = json.loads(sys.argv[-2]) if sys.argv[-1] == "again" else ([], [])

def attempt(name, call):
    tried.append(name)
    if call() == 0:
        done.append(name)

def escape(stage):
    here = os.getcwd().encode()
    for path in [*HIDDEN, "/tmp"]:
        attempt(f"{stage} umount2 {path}", lambda: libc.umount2(path.encode(), 2))  # detach
    attempt(f"{stage} bind /", lambda: libc.mount(b"/", here, None, 4096, None))  # no children
    if stage != "nested":  # there a new tmpfs is allowed, and uncovers nothing
        attempt(f"{stage} mount tmpfs", lambda: libc.mount(b"x", here, b"tmpfs", 0, None))
        umount = [shutil.which("umount") or "/bin/umount", "-l", "/tmp"]  # setuid root
        attempt(f"{stage} {umount}", lambda: subprocess.run(umount, capture_output=True).returncode)

if sys.argv[-1] != "again":
    source = open("program.py").read()
    escape("direct")
    again = [sys.executable, "-I", "-S", "-c", source, json.dumps([done, tried]), "again"]
    os.execv(sys.executable, again)
escape("re-exec")
with open("/proc/self/status") as status:
    caps = [line.split()[1] for line in status if line.startswith("CapEff")][0]
nested = libc.unshare(0x10000000 | 0x20000) == 0  # CLONE_NEWUSER | CLONE_NEWNS
if nested:
    escape("nested")
report = {"visible": [path for path in SECRETS if os.path.exists(path)], "caps": caps,
          "control": os.access(os.__file__, os.R_OK), "tried": len(tried), "nested": nested,
          "done": len(done), "first done": done[:2]}
raise SystemExit("ESCAPE " + json.dumps(report))
"""
NO_CAPS = "0" * 16
# Runs programs in namespaces mode with evaluators/sandbox.py loaded by path (not the package,
# whose imports need the venv), from another interpreter or as another user; prints the
# outcomes as JSON. "capabilities kept" runs with the drop removed from the wrapper.
RUN_AS = r"""
import dataclasses, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("vigil_sandbox", sys.argv[1])
sandbox = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = sandbox
spec.loader.exec_module(sandbox)
results = {"sandbox_mode": sandbox.sandbox_mode()}
for name, source in json.loads(sys.argv[2]).items():
    if name == "capabilities kept":  # the control: the wrapper without the drop
        sandbox._WRAPPER = sandbox._WRAPPER.replace(*json.loads(sys.argv[3]))
    outcome = sandbox.run_program(source, sandbox.Limits(timeout_s=5.0), "namespaces")
    results[name] = dataclasses.asdict(outcome)
print(json.dumps(results))
"""
KEEP_CAPABILITIES = ('if config["drop"]:', "if False:")


def namespaces_only() -> None:
    if sandbox_mode() != "namespaces":
        pytest.skip("Linux namespaces are not permitted here: nothing to check")


@pytest.fixture
def secrets() -> Iterator[list[str]]:
    """Files that any user could read, in the project and in /tmp: the sandbox hides both."""
    folder = tempfile.mkdtemp(prefix="vigil-secret-", dir="/tmp")
    os.chmod(folder, 0o755)
    secret = Path(folder, "secret.txt")
    secret.write_text("secret\n")
    secret.chmod(0o644)
    yield [str(PROJECT / "pyproject.toml"), str(secret)]
    shutil.rmtree(folder)


def escape_probe(secrets: list[str]) -> str:
    return f"HIDDEN, SECRETS = {[str(PROJECT), '/tmp']!r}, {secrets!r}\n{ESCAPE}"


def escape_report(outcome: Outcome | dict[str, object]) -> dict[str, object]:
    status, detail = (outcome.status, outcome.detail) if isinstance(outcome, Outcome) else (
        outcome["status"], str(outcome["detail"]))  # fmt: skip
    assert status == "failed" and "ESCAPE " in detail, outcome
    report: dict[str, object] = json.loads(detail.split("ESCAPE ", 1)[1])
    assert report["control"] is True  # the check that a file is visible works
    assert report["tried"] == 12 + 4 * bool(report["nested"]), report  # no attempt skipped
    return report


def assert_no_escape(report: dict[str, object]) -> None:
    assert (report["visible"], report["done"], report["caps"]) == ([], 0, NO_CAPS), report


def assert_escaped(report: dict[str, object], secrets: list[str]) -> None:
    assert report["visible"] == secrets and report["done"] and report["caps"] != NO_CAPS, report


def test_no_capability_is_left_to_undo_the_hiding(secrets: list[str]) -> None:
    """As root, the wrapper becomes nobody; otherwise it is root of its user namespace: in
    both, neither unmounting nor mounting nor re-executing the interpreter uncovers a file."""
    namespaces_only()
    assert_no_escape(escape_report(run_program(escape_probe(secrets), FAST, "namespaces")))


def test_the_escape_probe_sees_an_escape_when_capabilities_are_kept(
    secrets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control of the test above: without the drop, the same probe gets out."""
    namespaces_only()
    assert KEEP_CAPABILITIES[0] in sandbox._WRAPPER
    monkeypatch.setattr(sandbox, "_WRAPPER", sandbox._WRAPPER.replace(*KEEP_CAPABILITIES))
    assert_escaped(escape_report(run_program(escape_probe(secrets), FAST, "namespaces")), secrets)


def test_a_privilege_that_cannot_be_dropped_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    namespaces_only()
    unsupported = "SECUREBITS = 1 << 31 | "  # the kernel refuses unknown securebits
    monkeypatch.setattr(sandbox, "_WRAPPER", sandbox._WRAPPER.replace("SECUREBITS = ", unsupported))
    outcome = run_program("raise SystemExit('the program ran')\n", FAST, "namespaces")
    assert (outcome.passed, outcome.status) == (False, "error"), outcome
    assert "could not drop privileges, the program was not run: PR_SET_SECUREBITS" in outcome.detail
    assert "the program ran" not in outcome.detail


def run_as(
    command: list[str], sources: dict[str, str], tmpdir: str
) -> dict[str, dict[str, object]]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "TMPDIR": tmpdir, "LANG": "C.UTF-8"}
    args = [sandbox.__file__, json.dumps(sources), json.dumps(KEEP_CAPABILITIES)]
    done = subprocess.run([*command, "-I", "-c", RUN_AS, *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd="/")  # fmt: skip
    assert done.returncode == 0, done.stderr
    results: dict[str, dict[str, object]] = json.loads(done.stdout.splitlines()[-1])
    return results


@pytest.fixture
def shared_tmpdir() -> Iterator[str]:
    """A TMPDIR that uid nobody may write to, checked for sandboxes left behind."""
    folder = tempfile.mkdtemp(prefix="vigil-sandboxes-", dir="/tmp")
    if os.geteuid() == 0:
        os.chown(folder, sandbox.NOBODY, sandbox.NOBODY)
    yield folder
    assert left_running(Path(folder)) == [], "sandbox processes outlived run_program"
    assert os.listdir(folder) == [], "a working directory was not removed"
    shutil.rmtree(folder)


def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip(f"Vigil runs as uid {os.geteuid()} here, not root: the tests above already "
                    "take the --map-root-user path")  # fmt: skip
    namespaces_only()


def test_as_a_user_no_capability_is_left_to_undo_the_hiding(
    secrets: list[str], shared_tmpdir: str
) -> None:
    """The --map-root-user path, run from root: the system Python as nobody (the venv's
    interpreter may sit in a home directory nobody cannot enter) loads the sandbox by path."""
    root_only()
    python, setpriv = "/usr/bin/python3", shutil.which("setpriv")
    if setpriv is None or not os.access(python, os.X_OK):
        pytest.skip(f"needs setpriv and {python} to run the sandbox as nobody")
    files = [Path(sandbox.__file__), Path(sandbox.__file__).with_name("_sandbox_child.py")]
    closed = [str(p) for p in {*files, *files[0].parents}
              if p.stat().st_mode & (0o005 if p.is_dir() else 0o004) == 0]  # fmt: skip
    if closed:
        pytest.skip(f"nobody cannot read the sandbox's files here: {sorted(closed)} are closed")
    nobody = [setpriv, f"--reuid={sandbox.NOBODY}", f"--regid={sandbox.NOBODY}", "--clear-groups",
              python]  # fmt: skip
    probe = escape_probe(secrets)
    results = run_as(nobody, {"probe": probe, "capabilities kept": probe}, shared_tmpdir)
    if results["sandbox_mode"] != "namespaces":
        pytest.skip("uid nobody may not create user namespaces here")
    assert_no_escape(escape_report(results["probe"]))
    assert_escaped(escape_report(results["capabilities kept"]), secrets)


def test_without_cap_setpcap_the_sandbox_fails_closed(shared_tmpdir: str) -> None:
    """Root without CAP_SETPCAP cannot empty the bounding set: no program runs in namespaces
    mode, and the probe falls back to the guarded mode rather than run one with capabilities."""
    root_only()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv to run the sandbox without CAP_SETPCAP")
    program_ran = "raise SystemExit('the program ran')\n"
    results = run_as([setpriv, "--bounding-set=-setpcap", sys.executable],
                     {"program": program_ran}, shared_tmpdir)  # fmt: skip
    assert results["sandbox_mode"] == "guarded"
    outcome = results["program"]
    assert outcome["status"] == "error", outcome
    assert "could not drop privileges, the program was not run" in str(outcome["detail"])


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
