"""The code_tests evaluator: a pass is 1, a failure or a timeout 0, a broken sandbox an error."""

from __future__ import annotations

from typing import Any

import pytest

from evaluators import DEFAULT_EVALUATORS, Resources, available, sandbox
from evaluators.code_tests import CodeTests
from evaluators.sandbox import Limits
from tests.evaluators.code_problems import PROBLEMS, Problem, without_last_line
from vigil.models import Trace

LIMITS = Limits(timeout_s=2.0)


def trace(problem: Problem, completion: str, tid: str = "t", **attributes: Any) -> Trace:
    return Trace(
        id=tid,
        app="codegen",
        start_time="2026-01-01T00:00:00Z",
        input=problem["prompt"],
        output=completion,
        attributes={"test": problem["test"], "entry_point": problem["entry_point"], **attributes},
    )


def evaluator() -> CodeTests:
    return CodeTests(Resources(provider=None), limits=LIMITS)


def test_registered_by_name_but_not_run_by_default() -> None:
    assert available()["code_tests"] is CodeTests
    assert CodeTests.version == "sandbox-1"
    assert "code_tests" not in DEFAULT_EVALUATORS


def test_a_pass_is_one_and_a_failure_zero() -> None:
    good = [trace(p, p["canonical_solution"], f"good-{i}") for i, p in enumerate(PROBLEMS)]
    bad = [
        trace(p, without_last_line(p["canonical_solution"]) or "    pass\n", f"bad-{i}")
        for i, p in enumerate(PROBLEMS)
    ]
    scores = evaluator().evaluate(good + bad)
    assert [s.value for s in scores] == [1.0] * len(good) + [0.0] * len(bad)
    assert {s.metadata["label"] for s in scores[: len(good)]} == {"pass"}
    assert {s.metadata["status"] for s in scores[len(good) :]} == {"failed"}
    assert scores[0].explanation == "all tests passed"
    assert "AssertionError" in (scores[-1].explanation or "")
    assert all(s.metadata["duration_s"] >= 0 and s.metadata["sandbox"] for s in scores)


def test_a_full_redefinition_and_the_prompt_attribute_work() -> None:
    problem = PROBLEMS[2]
    redefinition = "def digit_root(n):\n    return 0 if n == 0 else 1 + (n - 1) % 9\n"
    moved = trace(problem, problem["canonical_solution"], prompt=problem["prompt"])
    moved = moved.model_copy(update={"input": "a chat message, not the prompt"})
    scores = evaluator().evaluate([trace(problem, redefinition), moved])
    assert [s.value for s in scores] == [1.0, 1.0], scores


def test_a_timeout_is_a_failed_test_not_an_error() -> None:
    [score] = evaluator().evaluate([trace(PROBLEMS[0], "    while True:\n        pass\n")])
    assert score.status == "scored" and score.value == 0.0
    assert (score.metadata["status"], score.metadata["label"]) == ("timeout", "fail")


def test_a_trace_without_tests_is_skipped() -> None:
    problem = PROBLEMS[0]
    no_tests = Trace(id="n", app="a", start_time="2026-01-01T00:00:00Z", input="q", output="a")
    no_answer = trace(problem, "")
    scores = evaluator().evaluate([no_tests, no_answer])
    assert [s.status for s in scores] == ["skipped", "skipped"]
    assert "tests" in (scores[0].explanation or "")
    assert "answer" in (scores[1].explanation or "")


def test_a_broken_sandbox_is_an_error_score(monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.sandbox_mode()  # probed with the real interpreter, before it is broken
    monkeypatch.setattr(sandbox, "_INTERPRETER", "/nonexistent/python3")
    [score] = evaluator().evaluate([trace(PROBLEMS[0], PROBLEMS[0]["canonical_solution"])])
    assert score.status == "error" and score.value is None
    assert "sandbox" in (score.explanation or "")
