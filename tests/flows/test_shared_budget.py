"""A backfill's judge budget, shared by its chunk runs through ``judge_budgets``: judges
in different runs (processes, workers) stop together when their common total is spent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from evaluators.base import Resources
from evaluators.judge_answer_relevance import JudgeAnswerRelevance
from evaluators.providers.judge import build_judge
from flows.judge_sharing import SharedBudget
from tests.evaluators.test_judge import trace
from vigil.settings import Settings
from vigil.store import budgets
from vigil.testing.fake_openai import FakeOpenAIServer


def _judge(fake: FakeOpenAIServer, ledger: SharedBudget | None):  # type: ignore[no-untyped-def]
    settings = Settings(
        judge_provider="openai_compatible", judge_model="fake-judge", judge_base_url=fake.base_url,
        judge_max_tokens_per_run=100, judge_concurrency=1,
    )  # fmt: skip
    return build_judge(settings, ledger=ledger)


def test_two_runs_share_one_budget_and_stop_together(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer() as fake:
        first = _judge(fake, SharedBudget(db_url, "backfill:b1", "shop"))
        second = _judge(fake, SharedBudget(db_url, "backfill:b1", "shop"))
        scored = JudgeAnswerRelevance(Resources(provider=None, judge=first)).evaluate([trace("a")])
        refused = JudgeAnswerRelevance(Resources(provider=None, judge=second)).evaluate(
            [trace("b")]
        )
    assert scored[0].status == "scored"
    assert len(fake.requests) == 1  # the first run's request spent more than 100 tokens
    assert refused[0].not_attempted
    assert refused[0].explanation == "judge budget of 100 tokens for this backfill is spent"
    tokens, _ = budgets.spent(conn, "backfill:b1", "shop")
    assert tokens == first.usage.tokens > 100 and second.usage.tokens == 0


def test_without_a_shared_budget_each_run_has_its_own() -> None:
    with FakeOpenAIServer() as fake:
        for name in ("a", "b"):
            judge = _judge(fake, None)
            [score] = JudgeAnswerRelevance(Resources(provider=None, judge=judge)).evaluate(
                [trace(name)]
            )
            assert score.status == "scored"
    assert len(fake.requests) == 2


def test_concurrent_spends_add_up_exactly_per_backfill_and_app(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    ledger = SharedBudget(db_url, "backfill:b2", "shop")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: ledger.add(7, 0.001), range(200)))
    tokens, cost = budgets.spent(conn, "backfill:b2", "shop")
    assert tokens == 1400 and abs(cost - 0.2) < 1e-9
    assert budgets.spent(conn, "backfill:b2", "other-app") == (0, 0.0)
    assert budgets.spent(conn, "backfill:b3", "shop") == (0, 0.0)
