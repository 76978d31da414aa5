"""The sandbox on the real HumanEval problems of ../shared/data (skipped when absent): every
canonical solution passes, and truncated or hostile completions fail."""

from __future__ import annotations

import gzip
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from evaluators.sandbox import Limits, Outcome, program, run_program
from tests.evaluators.code_problems import without_last_line

pytestmark = pytest.mark.shared_data
HOSTILE_ON = ("HumanEval/0", "HumanEval/53", "HumanEval/163")
NO_NETWORK = {
    "namespaces": "Network is unreachable",
    "guarded": "blocked by the Vigil sandbox guard",
}
# A hostile start, followed by the canonical solution (so that the program would pass if the
# sandbox let the start through), the status expected and the cause the outcome must name in
# namespaces and in guarded mode ("" when only a failure or the timeout can end it). The last
# is the control: a program of the same shape passes when what it asks is allowed.
HOSTILE: dict[str, tuple[str, str, dict[str, str]]] = {
    "infinite loop": ("    while True:\n        pass\n", "timeout", {}),
    "fork bomb": ("    import os\n    while True:\n        os.fork()\n", "failed", {}),
    "10 GB allocation": (
        "    bytearray(10 * 2**30)\n",
        "failed",
        {"namespaces": "MemoryError", "guarded": "MemoryError"},
    ),
    "network": (
        "    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=5)\n",
        "failed",
        NO_NETWORK,
    ),
    "10 MB allocation (control)": ("    bytearray(10 * 2**20)\n", "passed", {}),
}


@pytest.fixture(scope="module")
def problems(shared_data: Path) -> dict[str, dict[str, Any]]:
    path = shared_data / "humaneval" / "HumanEval.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"HumanEval not found at {path} (put HumanEval.jsonl.gz there)")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return {p["task_id"]: p for p in map(json.loads, lines)}


def source(problem: dict[str, Any], completion: str) -> str:
    return program(problem["prompt"], completion, problem["test"], problem["entry_point"])


def run_all(sources: list[str], limits: Limits | None = None) -> list[Outcome]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda text: run_program(text, limits or Limits()), sources))


def test_every_canonical_solution_passes(problems: dict[str, dict[str, Any]]) -> None:
    started = time.monotonic()
    outcomes = run_all([source(p, p["canonical_solution"]) for p in problems.values()])
    failed = {task: o for task, o in zip(problems, outcomes, strict=True) if not o.passed}
    assert len(outcomes) == 164 and failed == {}, failed
    assert time.monotonic() - started < 60


def test_every_solution_without_its_last_line_fails(problems: dict[str, dict[str, Any]]) -> None:
    outcomes = run_all([source(p, without_last_line(p["canonical_solution"]))
                        for p in problems.values()])  # fmt: skip
    passed = [task for task, o in zip(problems, outcomes, strict=True) if o.passed]
    assert passed == [] and {o.status for o in outcomes} == {"failed"}


def test_hostile_completions_fail_for_their_cause(problems: dict[str, dict[str, Any]]) -> None:
    cases = [(task, case) for task in HOSTILE_ON for case in HOSTILE]
    sources = [source(problems[task], HOSTILE[case][0] + problems[task]["canonical_solution"])
               for task, case in cases]  # fmt: skip
    outcomes = dict(zip(cases, run_all(sources, Limits(timeout_s=2.0)), strict=True))
    statuses = {key: o.status for key, o in outcomes.items()}
    assert statuses == {(task, case): HOSTILE[case][1] for task, case in cases}, outcomes
    for (task, case), outcome in outcomes.items():
        cause = HOSTILE[case][2].get(outcome.mode, "")
        assert cause in outcome.detail, (task, case, outcome)
