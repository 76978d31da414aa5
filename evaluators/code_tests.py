"""Code tests: does the generated code pass the item's tests? (pass@1 of HumanEval-style items)

A code item carries ``attributes.test`` (defining ``check(candidate)``), ``attributes.entry_point``
and the prompt (``attributes.prompt``, else the trace's input); the completion is the trace's
output. The program runs in :mod:`evaluators.sandbox`. A timeout is a failed test (0), never an
error; an error score means the sandbox itself could not run, and a later run retries it.

Limits are the :class:`~evaluators.sandbox.Limits` defaults (10 s, 512 MB, 8 processes):
evaluators read no settings; pass other ``limits`` when building one in code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

from evaluators.base import Evaluator, Need, Resources
from evaluators.registry import register
from evaluators.sandbox import Limits, Outcome, program, run_program
from vigil.models import Score, Trace

WORKERS = 4  # programs run at once, at most one per CPU


@register
class CodeTests(Evaluator):
    name = "code_tests"
    version = "sandbox-1"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "tests"})

    def __init__(self, resources: Resources, limits: Limits | None = None) -> None:
        super().__init__(resources)
        self.limits = limits or Limits()

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        if not traces:
            return []
        workers = max(1, min(WORKERS, os.cpu_count() or 1, len(traces)))
        with ThreadPoolExecutor(workers, thread_name_prefix="code-tests") as pool:
            return list(pool.map(self._score_one, traces))

    def _score_one(self, trace: Trace) -> Score:
        attributes = trace.attributes
        source = program(
            str(attributes.get("prompt") or trace.input or ""),
            trace.output or "",
            str(attributes["test"]),
            str(attributes["entry_point"]),
        )
        return _score(run_program(source, self.limits))


def _score(outcome: Outcome) -> Score:
    if outcome.status == "error":
        return Score.error(f"the code sandbox failed: {outcome.detail}", sandbox=outcome.mode)
    explanation = {
        "passed": "all tests passed",
        "timeout": f"the tests did not finish: {outcome.detail}",
        "failed": f"the tests failed: {outcome.detail}",
    }[outcome.status]
    return Score.scored(
        1.0 if outcome.passed else 0.0,
        explanation,
        label="pass" if outcome.passed else "fail",
        status=outcome.status,
        duration_s=round(outcome.duration_s, 3),
        sandbox=outcome.mode,
    )
