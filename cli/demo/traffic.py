"""Fourteen days of production traffic from a simulated RAG assistant.

Each trace is a real retrieval from the knowledge base (the caller passes the retriever) and
an answer written from the retrieved document. From ``regression_day`` on, prompt version
``v2`` serves part of the traffic, and most of its answers state facts that are not in the
retrieved context. Everything is seeded: the same plan gives the same traces and ids.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cli.demo.corpus import PRODUCTS, ROUTE_OF_TOPIC, TOPICS
from cli.demo.questions import QUESTIONS
from vigil.models import Retrieval, Span, Trace

Retriever = Callable[[str], list[Retrieval]]
MODELS = {
    "gpt-4o-mini": (0.15, 0.60, 0.7),
    "llama-3.1-8b": (0.05, 0.08, 0.3),
}  # $/1M in, out; share
OPENERS = ("", "", "Sure! ", "Good question. ", "Here is what I found: ")


@dataclass(frozen=True)
class DemoPlan:
    end: datetime
    days: int = 14
    per_day: int = 200
    regression_day: int = 10  # index of the day v2 ships (0 = oldest)
    v2_share: float = 0.5
    v2_made_up_rate: float = 0.7
    base_made_up_rate: float = 0.02
    error_rate: float = 0.01
    app: str = "orrin-assistant"
    seed: int = 7

    @property
    def start(self) -> datetime:
        midnight = self.end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=self.days - 1)

    def day_start(self, index: int) -> datetime:
        return self.start + timedelta(days=index)

    @property
    def regression_start(self) -> datetime:
        return self.day_start(self.regression_day)


def _timestamps(rng: random.Random, day: datetime, n: int, hours: float) -> list[datetime]:
    """n arrival times in the first ``hours`` of a day, busier in the afternoon (UTC)."""
    out: list[datetime] = []
    while len(out) < n:
        hour = rng.uniform(0, hours)
        if rng.random() < 0.35 + 0.65 * math.sin(math.pi * hour / 24) ** 2:
            out.append(day + timedelta(hours=hour))
    return sorted(out)


def generate_traffic(plan: DemoPlan, retrieve: Retriever) -> Iterator[Trace]:
    """Yield the plan's traces in time order."""
    rng = random.Random(plan.seed)
    for day_index in range(plan.days):
        day = plan.day_start(day_index)
        if day >= plan.end:
            break
        hours_open = min(24.0, (plan.end - day).total_seconds() / 3600)
        count = int(plan.per_day * rng.uniform(0.85, 1.15) * hours_open / 24)
        for i, ts in enumerate(_timestamps(rng, day, count, hours_open)):
            yield _trace(plan, rng, f"demo-{day:%Y%m%d}-{i:05d}", ts, day_index, retrieve)


def _trace(
    plan: DemoPlan,
    rng: random.Random,
    trace_id: str,
    ts: datetime,
    day_index: int,
    retrieve: Retriever,
) -> Trace:
    product = rng.choice(PRODUCTS)
    topic = rng.choice(TOPICS)
    qa = rng.choice(QUESTIONS[topic])
    question = qa.question(product)
    model = "gpt-4o-mini" if rng.random() < MODELS["gpt-4o-mini"][2] else "llama-3.1-8b"
    v2 = day_index >= plan.regression_day and rng.random() < plan.v2_share
    made_up_rate = plan.v2_made_up_rate if v2 else plan.base_made_up_rate
    made_up = rng.random() < made_up_rate
    chunks = retrieve(question)
    failed = rng.random() < plan.error_rate
    answer = (
        None
        if failed
        else rng.choice(OPENERS) + (qa.made_up(product) if made_up else qa.grounded(product))
    )
    retrieval_ms = rng.lognormvariate(math.log(40), 0.3)
    llm_ms = rng.lognormvariate(math.log(900 if model == "gpt-4o-mini" else 500), 0.35)
    end = ts + timedelta(milliseconds=retrieval_ms + llm_ms + 5)
    tokens_in = 180 + sum(len(c.content.split()) for c in chunks) * 4 // 3
    tokens_out = 0 if answer is None else len(answer.split()) * 4 // 3 + 2
    price_in, price_out, _ = MODELS[model]
    feedback_roll = rng.random()
    feedback: Literal[-1, 1] | None = None
    if feedback_roll < (0.25 if made_up else 0.03):
        feedback = -1  # users notice some made-up answers
    elif feedback_roll > 0.9:
        feedback = 1
    root, ret, llm = "s-root", "s-retrieve", "s-llm"
    retrieved_at = ts + timedelta(milliseconds=retrieval_ms)
    return Trace(
        id=trace_id,
        app=plan.app,
        start_time=ts,
        end_time=end,
        input=question,
        output=answer,
        model=model,
        prompt_version="v2" if v2 else "v1",
        segment={"route": ROUTE_OF_TOPIC[topic], "product": product.slug},
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost_usd=(tokens_in * price_in + tokens_out * price_out) / 1_000_000,
        status="error" if failed else "ok",
        user_feedback=feedback,
        attributes={"demo": {"made_up": made_up, "topic": topic}},
        retrievals=[c.model_copy(update={"span_id": ret}) for c in chunks],
        spans=[
            Span(span_id=root, kind="chain", name="rag-answer", start_time=ts, end_time=end),
            Span(
                span_id=ret,
                parent_span_id=root,
                kind="retriever",
                name="pgvector-search",
                start_time=ts,
                end_time=retrieved_at,
                attributes={"k": len(chunks)},
            ),
            Span(
                span_id=llm,
                parent_span_id=root,
                kind="llm",
                name=model,
                start_time=retrieved_at,
                end_time=end,
                attributes={"tokens_in": tokens_in, "tokens_out": tokens_out},
            ),
        ],
    )
