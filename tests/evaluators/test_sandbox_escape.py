"""The sandbox's namespaces mode cannot be undone from inside: no capability is left to
unmount the covers over the project and /tmp, as root (switched to nobody) and as a user
(root of its own user namespace); and a privilege that cannot be dropped stops the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from evaluators import sandbox
from evaluators.sandbox import Limits, Outcome, run_program, sandbox_mode
from tests.evaluators.sandboxes import left_running

# Sandboxes work under the test's own folder, and none may outlive the test.
pytestmark = pytest.mark.usefixtures("own_tempdir")
FAST = Limits(timeout_s=5.0)
PROJECT = Path(__file__).resolve().parents[2]


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
