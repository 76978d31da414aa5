"""A real LLMJudge pointed at the fake OpenAI-compatible server, for tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from evaluators import Resources
from evaluators.providers.judge import LLMJudge, build_judge
from vigil.settings import Settings
from vigil.testing.fake_openai import FakeOpenAIServer


def make_judge(fake: FakeOpenAIServer, **settings: Any) -> LLMJudge:
    judge = build_judge(
        Settings(
            judge_provider="openai_compatible",
            judge_model="fake-judge",
            judge_base_url=fake.base_url,
            **settings,
        )
    )
    assert judge is not None
    judge.backoff_s = 0.01  # the tests' fake recovers at once
    return judge


@contextmanager
def judged(
    settings: dict[str, Any] | None = None, **fake: Any
) -> Iterator[tuple[FakeOpenAIServer, Resources]]:
    """A fake server (``fake`` configures it) and resources whose judge talks to it."""
    with FakeOpenAIServer(**fake) as server:
        yield server, Resources(provider=None, judge=make_judge(server, **(settings or {})))
