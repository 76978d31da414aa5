"""Operational measures: latency, tokens (counted when unreported), cost (priced at ingestion)."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from cli.main import cli
from evaluators import Resources
from evaluators.cost import Cost
from evaluators.latency import Latency
from evaluators.token_usage import TokenUsage
from vigil.db.types import Conn
from vigil.ingest.enrich import PriceBook, enrich
from vigil.models import Retrieval, Score, Trace

NONE = Resources(provider=None)


def trace(tid: str = "t", **fields: Any) -> Trace:
    return Trace(id=tid, app="a", start_time="2026-01-01T00:00:00Z", **fields)


def test_latency_is_measured_in_ms_from_the_report_or_the_timestamps() -> None:
    reported, derived, unknown = Latency(NONE).evaluate(
        [
            trace("r", latency_ms=250.0),
            trace("d", end_time="2026-01-01T00:00:01.5Z"),
            trace("u"),
        ]
    )
    assert (reported.measure, reported.metadata) == (250.0, {"unit": "ms"})
    assert derived.measure == 1500.0 and derived.value is None  # a measure, not a [0, 1] score
    assert unknown == Score.skipped("trace has no latency")


def test_reported_tokens_are_summed() -> None:
    [result] = TokenUsage(NONE).evaluate([trace(tokens_in=100, tokens_out=20)])  # no text at all
    assert result.measure == 120
    assert result.metadata == {
        "unit": "tokens",
        "tokens_in": 100,
        "tokens_out": 20,
        "estimated": False,
    }


def test_unreported_tokens_are_counted_with_tiktoken() -> None:
    # cl100k_base: "hello world" is 2 tokens, "What is the capital of France?" 7
    counted = trace(
        input="hello world",
        output="What is the capital of France?",
        retrievals=[Retrieval(content="hello world")],
    )
    [result] = TokenUsage(NONE).evaluate([counted])
    assert result.metadata["tokens_out"] == 7
    assert result.metadata["tokens_in"] == 5  # "hello world\nhello world": 2 + newline + 2
    assert result.measure == 12 and result.metadata["estimated"] is True
    assert "estimated with tiktoken" in (result.explanation or "")
    [nothing] = TokenUsage(NONE).evaluate([trace(input="a question")])
    assert nothing.status == "skipped" and "no answer to count" in (nothing.explanation or "")


def test_a_reported_cost_is_measured_in_usd() -> None:
    [result] = Cost(NONE).evaluate([trace(model="my-model", cost_usd=0.0125)])
    assert result.measure == 0.0125 and result.metadata["unit"] == "USD"
    assert "(reported)" in (result.explanation or "")


def test_ingestion_prices_the_trace_and_the_evaluators_report_it(conn: Conn) -> None:
    raw = trace(model="gpt-4o-mini-2024-07-18", input="hello world", output="hello world")
    stored = enrich(PriceBook(conn), raw)  # the default price: $0.15 in, $0.60 out per Mtok
    [cost] = Cost(NONE).evaluate([stored])
    assert cost.measure is not None and abs(cost.measure - (2 * 0.15 + 2 * 0.60) / 1e6) < 1e-12
    assert cost.metadata["unit"] == "USD" and cost.metadata["priced_as"].startswith("gpt-4o-mini@")
    [tokens] = TokenUsage(NONE).evaluate([stored])
    assert tokens.measure == 4 and tokens.metadata["estimated"] is True  # counted at ingestion


def test_an_unpriced_trace_is_skipped_with_the_command_that_prices_it(conn: Conn) -> None:
    unpriced = enrich(PriceBook(conn), trace(model="acme-llm-7", input="q", output="an answer"))
    no_model = trace(tokens_in=5, tokens_out=5)
    skipped, without_model = Cost(NONE).evaluate([unpriced, no_model])
    assert skipped.status == "skipped" and skipped.measure is None
    reason = skipped.explanation or ""
    assert "no price for model 'acme-llm-7'" in reason
    assert "`vigil prices set acme-llm-7 --input USD_PER_MTOK --output USD_PER_MTOK`" in reason
    assert without_model == Score.skipped("trace has no cost and names no model to price")
    # the command the reason names exists and takes those options
    help_text = CliRunner().invoke(cli, ["prices", "set", "--help"]).output
    assert "MODEL" in help_text and "--input" in help_text and "--output" in help_text
