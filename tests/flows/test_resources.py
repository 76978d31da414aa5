"""Evaluator resources: the LLM judge is built once per evaluation run, never offline."""

from __future__ import annotations

from flows.resources import naming_resources, run_judge
from vigil.settings import Settings

JUDGE = {"judge_provider": "openai_compatible", "judge_model": "fake-judge",
         "judge_base_url": "http://127.0.0.1:9/v1", "judge_max_tokens_per_run": 100}  # fmt: skip


def test_offline_there_is_no_judge() -> None:
    settings = Settings(judge_provider="none")
    assert run_judge(settings, 1) is None
    assert naming_resources(settings).judge is None


def test_a_run_keeps_one_judge_and_its_budget_across_batches() -> None:
    settings = Settings(**JUDGE)  # type: ignore[arg-type]
    first, again, other = run_judge(settings, 7), run_judge(settings, 7), run_judge(settings, 8)
    assert first is again  # the batches of run 7 share one budget
    assert other is not first  # run 8 starts with a fresh one
    assert run_judge(Settings(**{**JUDGE, "judge_model": "other"}), 7) is not first  # type: ignore[arg-type]
    assert naming_resources(settings).judge.model == "fake-judge"
