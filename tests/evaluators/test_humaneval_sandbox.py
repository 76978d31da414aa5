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
HOSTILE = {
    "infinite loop": "    while True:\n        pass\n",
    "fork bomb": "    import os\n    while True:\n        os.fork()\n",
    "10 GB allocation": "    return bytearray(10 * 2**30)\n",
    "network": "    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=5)\n",
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


def test_hostile_completions_fail(problems: dict[str, dict[str, Any]]) -> None:
    cases = [(task, case) for task in HOSTILE_ON for case in HOSTILE]
    outcomes = run_all([source(problems[task], HOSTILE[case]) for task, case in cases],
                       Limits(timeout_s=2.0))  # fmt: skip
    statuses = {(task, case): o.status for (task, case), o in zip(cases, outcomes, strict=True)}
    expected = {(task, case): "timeout" if case == "infinite loop" else "failed"
                for task, case in cases}  # fmt: skip
    assert statuses == expected
