"""What the LLM-judge evaluators share.

A judge evaluator names, per trace, the TruLens feedback calls it needs; the base runs a
batch's calls concurrently (up to the judge's concurrency, results in order), turns a
failure or a spent budget into an error score (never a 0), skips every trace when no judge
is configured, and puts the judge's model in the version, so that scores from different
judge models are never mixed.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from evaluators.base import Evaluator, Judge
from vigil.models import NOT_ATTEMPTED, Score, Trace

NO_JUDGE = (
    "no LLM judge configured: set VIGIL_JUDGE_PROVIDER (openai, openai_compatible or ollama) "
    "and VIGIL_JUDGE_MODEL"
)
Result = tuple[float, dict[str, Any]]
Call = tuple[str, dict[str, Any]]  # a feedback name and its arguments


class JudgeVersion:
    """A version that names the judge model: ``llm-1:gpt-4o-mini`` (``llm-1`` on the class,
    and on an instance without a judge)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def __get__(self, evaluator: Evaluator | None, owner: type | None = None) -> str:
        judge = evaluator.resources.judge if evaluator is not None else None
        return f"{self.base}:{judge.model}" if judge is not None else self.base


class JudgeEvaluator(Evaluator):
    """Base of the evaluators that ask :class:`evaluators.base.Judge` (TruLens feedback)."""

    version = JudgeVersion("llm-1")
    deterministic = False

    @abstractmethod
    def calls(self, trace: Trace) -> list[Call]:
        """The feedback calls that judge one trace."""

    def combine(self, trace: Trace, results: list[Result]) -> Score:
        """One trace's score from its calls' results (by default, the only one)."""
        (value, reasons), *_ = results
        return Score.scored(value, str(reasons.get("reason") or "") or None, reasons=reasons)

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        judge = self.resources.judge
        if judge is None:
            return [Score.skipped(NO_JUDGE) for _ in traces]
        per_trace = [self.calls(t) for t in traces]
        flat = [
            partial(judge.feedback, name, **args) for calls in per_trace for name, args in calls
        ]
        results = run_concurrently(judge, flat)
        out: list[Score] = []
        for trace, calls in zip(traces, per_trace, strict=True):
            mine, results = results[: len(calls)], results[len(calls) :]
            failure = next((r for r in mine if isinstance(r, Exception)), None)
            if failure is not None:
                out.append(_failure(failure))
            elif not mine:
                out.append(Score.skipped("nothing to judge in this trace"))
            else:
                out.append(self.combine(trace, [r for r in mine if not isinstance(r, Exception)]))
        return out


def run_concurrently(
    judge: Judge, calls: Sequence[Callable[[], Result]]
) -> list[Result | Exception]:
    """Run the calls in a thread pool as wide as the judge's concurrency; results in order, a
    failure returned in its place."""

    def attempt(call: Callable[[], Result]) -> Result | Exception:
        try:
            return call()
        except Exception as err:  # reported as an error score by the caller
            return err

    if not calls:
        return []
    workers = max(1, min(len(calls), int(getattr(judge, "concurrency", 4))))
    with ThreadPoolExecutor(workers, thread_name_prefix="vigil-judge") as pool:
        return list(pool.map(attempt, calls))


def _failure(err: Exception) -> Score:
    """An error score; one for a spent budget says the trace was not attempted at all."""
    # lazily: the providers package loads TruLens, which takes seconds
    from evaluators.providers.judge_budget import BudgetExceeded

    if isinstance(err, BudgetExceeded):
        return Score.error(str(err), **{NOT_ATTEMPTED: True})
    return Score.error(f"{type(err).__name__}: {err}")
