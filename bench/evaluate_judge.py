"""LLM judge throughput against a rate-limited server: sustained judge calls per second.

A fake OpenAI-compatible server (``tests/fakes/openai_server.py``) answers after 300 ms and
allows 20 requests in any one-second window, answering 429 beyond that. The judge is
configured with the same limit and enough concurrency to reach it (20/s x 0.3 s = 6 in
flight); N ``judge_answer_relevance`` evaluations run through the evaluator. Calls/s is
successful requests over the span of their arrivals at the server; the reference is the
limit (target: at least 90% of it, and next to no 429). A second case runs the
judge without its client-side cap: it leans on retries and backoff and shows the 429s the
cap avoids.
"""

from __future__ import annotations

import os

from bench import Row
from evaluators import Resources
from evaluators.judge_answer_relevance import JudgeAnswerRelevance
from evaluators.providers.judge import build_judge
from vigil.models import Trace
from vigil.settings import Settings
from vigil.testing.fake_openai import FakeOpenAIServer

LATENCY_S = 0.3
LIMIT_PER_S = 20
CONCURRENCY = 10
CALLS = int(os.environ.get("VIGIL_BENCH_JUDGE_CALLS", "200"))


def _traces(n: int) -> list[Trace]:
    return [
        Trace(
            id=f"t{i}",
            app="bench",
            start_time="2026-01-01T00:00:00Z",
            input=f"What is the warranty period of product {i}?",
            output=f"The warranty period of product {i} is two years.",
        )
        for i in range(n)
    ]


def _run_case(client_limit: float | None) -> tuple[float, int, int]:
    """Sustained successful calls/s, 429s seen, traces scored."""
    with FakeOpenAIServer(latency_s=LATENCY_S, rate_limit_per_s=LIMIT_PER_S) as fake:
        settings = Settings(
            judge_provider="openai_compatible",
            judge_model="fake-judge",
            judge_base_url=fake.base_url,
            judge_concurrency=CONCURRENCY,
            judge_rate_limit_per_s=client_limit,
            judge_max_retries=8,
        )
        evaluator = JudgeAnswerRelevance(Resources(provider=None, judge=build_judge(settings)))
        scores = evaluator.evaluate(_traces(CALLS))
        ok = sorted(r.at for r in fake.requests if r.status == 200)
    sustained = (len(ok) - 1) / (ok[-1] - ok[0]) if len(ok) > 1 else 0.0
    scored = sum(s.status == "scored" for s in scores)
    return sustained, fake.statuses.count(429), scored


def run() -> list[Row]:
    rows: list[Row] = []
    for cap in (LIMIT_PER_S, None):
        rate, throttled, scored = _run_case(cap)
        case = f"{CALLS} x 300 ms, server 20/s, " + (f"judge cap {cap}/s" if cap else "no cap")
        rows += [
            Row("evaluate_judge", case, "judge calls/s", rate, "server limit", LIMIT_PER_S),
            Row("evaluate_judge", case, "429 responses", throttled, "none", 0.0, False),
            Row("evaluate_judge", case, "traces scored", scored, "traces", CALLS),
        ]
    return rows
