"""The LLM judge end to end: TruLens over ChatOpenAI against a fake OpenAI-compatible server."""

from __future__ import annotations

import builtins
import itertools
import logging
import socket
from collections.abc import Sequence
from typing import Any

import nltk
import pytest
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from trulens.feedback.generated import re_configured_rating
from trulens.providers.langchain import Langchain

from evaluators import Resources, available, build
from evaluators.judge_answer_relevance import JudgeAnswerRelevance
from evaluators.judge_context_relevance import JudgeContextRelevance
from evaluators.judge_feedback import judge_feedback
from evaluators.judge_groundedness import JudgeGroundedness
from evaluators.providers.judge import LLMJudge, build_judge
from tests.fakes.judge import judged
from vigil.errors import VigilError
from vigil.models import Retrieval, Score, Trace
from vigil.settings import Settings
from vigil.testing.fake_openai import FakeOpenAIServer

SOURCE = ["The warranty period is two years.", "Shipping to Norway takes five days."]
WARRANTY_REPLY = (
    "Criteria: the response must answer the warranty question\n"
    "Supporting Evidence: The answer promises a 1-year warranty, as the source does.\n"
    "Score: 3"
)


def trace(
    tid: str = "t1",
    question: str = "What is the warranty period?",
    answer: str = "The warranty period is two years.",
    chunks: list[str] = SOURCE,
) -> Trace:
    retrievals = [Retrieval(document_id=f"d{i}", content=c) for i, c in enumerate(chunks)]
    return Trace(
        id=tid,
        app="a",
        start_time="2026-01-01T00:00:00Z",
        input=question,
        output=answer,
        retrievals=retrievals,
    )


def test_the_judge_evaluators_score_from_the_judges_replies() -> None:
    with judged() as (_, res):
        answer = "The warranty period is two years. Returns cost ten dollars."
        [grounded] = JudgeGroundedness(res).evaluate([trace(answer=answer)])
        [relevant] = JudgeAnswerRelevance(res).evaluate([trace()])
        [context] = JudgeContextRelevance(res).evaluate([trace()])
    assert grounded.value == 0.5  # one of two sentences is in the source
    assert grounded.explanation == "weakest sentence (0.00): 'Returns cost ten dollars.'"
    assert [s["score"] for s in grounded.metadata["sentences"]] == [1.0, 0.0]
    assert relevant.value == 1.0 and "warranty" in (relevant.explanation or "")
    assert context.value == 0.5  # the warranty chunk is relevant, the shipping one is not
    assert [(c["document_id"], c["score"]) for c in context.metadata["chunks"]] == [
        ("d0", 1.0),
        ("d1", 0.0),
    ]
    assert JudgeGroundedness(res).version == "llm-1:fake-judge"


def test_one_request_per_judgement_with_or_without_structured_output() -> None:
    for structured in (True, False):
        with judged({"judge_structured_output": structured}) as (fake, res):
            JudgeAnswerRelevance(res).evaluate([trace()])
            assert len(fake.requests) == 1
            JudgeContextRelevance(res).evaluate([trace()])
            assert len(fake.requests) == 1 + 2  # one per chunk
            JudgeGroundedness(res).evaluate([trace(answer="Two years. Free returns. Ten days.")])
            assert len(fake.requests) == 3 + 3  # one per sentence: the split is local
            build(["judge:coherence"], res)[0].evaluate([trace()])
            assert len(fake.requests) == 6 + 1
        formats = {str(r.body.get("response_format", {}).get("type")) for r in fake.requests}
        assert formats == ({"json_schema"} if structured else {"None"})


def test_stock_trulens_langchain_asks_twice_for_each_judgement() -> None:
    """Why the judge bypasses TruLens's Langchain provider's text path."""
    with FakeOpenAIServer() as fake:
        chat = ChatOpenAI(base_url=fake.base_url, api_key="fake", model="fake-judge")
        Langchain(chain=chat).relevance_with_cot_reasons("What is the warranty?", "Two years.")
    assert len(fake.requests) == 2
    assert fake.requests[1].body["messages"][0]["content"].startswith("Convert the following")


@pytest.mark.filterwarnings("ignore:This model does not support OpenAI's structured output")
def test_a_server_without_structured_output_gets_text_requests() -> None:
    """A local server (llama.cpp, older vLLM) configured by base URL and model name, with no
    key, that rejects JSON-schema output: Vigil falls back to text replies."""
    with judged({"judge_concurrency": 1}, structured=False) as (fake, res):
        scores = JudgeAnswerRelevance(res).evaluate([trace(), trace("t2")])
    assert [s.value for s in scores] == [1.0, 1.0]
    assert fake.statuses == [400, 200, 200]  # rejected once, then plain text requests
    assert "response_format" not in fake.requests[-1].body
    assert {r.body["model"] for r in fake.requests} == {"fake-judge"}  # VIGIL_JUDGE_MODEL


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(status: int) -> None:
    with judged(fail_first=2, fail_status=status) as (fake, res):
        [score] = JudgeAnswerRelevance(res).evaluate([trace()])
    assert score.value == 1.0
    assert fake.statuses == [status, status, 200]
    assert len(res.judge.retried) == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    with judged(fail_first=5, fail_status=status) as (fake, res):
        [score] = JudgeAnswerRelevance(res).evaluate([trace()])
    assert score.status == "error" and score.value is None
    assert fake.statuses == [status]


def test_retries_stop_at_the_limit() -> None:
    with judged({"judge_max_retries": 2}, fail_first=10, fail_status=500) as (fake, res):
        [score] = JudgeAnswerRelevance(res).evaluate([trace()])
    assert score.status == "error" and "500" in (score.explanation or "")
    assert fake.statuses == [500, 500, 500]


def test_retry_after_is_honoured() -> None:
    with judged(fail_first=1, retry_after_s=1) as (fake, res):
        [score] = JudgeAnswerRelevance(res).evaluate([trace()])
    assert score.value == 1.0
    assert fake.requests[1].at - fake.requests[0].at >= 1.0  # backoff alone waits ~0.01 s


def test_a_timed_out_request_is_retried() -> None:
    with judged({"judge_timeout_s": 0.3}, stall_first=1, stall_s=1.0) as (fake, res):
        [score] = JudgeAnswerRelevance(res).evaluate([trace()])
    assert score.value == 1.0 and len(fake.requests) == 2


def test_requests_in_flight_never_exceed_the_concurrency() -> None:
    with judged({"judge_concurrency": 3}, latency_s=0.1) as (fake, res):
        answer = "The warranty lasts two years. Returns are free. Shipping takes days."
        traces = [trace(f"t{i}", answer=answer) for i in range(6)]
        scores = JudgeGroundedness(res).evaluate(traces)  # TruLens adds a thread per sentence
    assert all(s.status == "scored" for s in scores)
    assert len(fake.requests) == 18 and fake.max_in_flight == 3


def test_the_rate_limit_spaces_requests() -> None:
    with judged({"judge_rate_limit_per_s": 20, "judge_concurrency": 8}) as (fake, res):
        judge = res.judge
        assert isinstance(judge, LLMJudge)
        starts: list[float] = []
        pace = judge._pace

        def paced() -> float:  # the slot each request waited for
            starts.append(pace())
            return starts[-1]

        judge._pace = paced  # type: ignore[method-assign]
        JudgeAnswerRelevance(res).evaluate([trace(f"t{i}") for i in range(10)])
    assert len(starts) == len(fake.requests) == 10
    # Unpaced, 8 threads would send 8 requests within a millisecond. Paced, each request's
    # slot starts at least one interval after the one before. (The server's arrival times
    # add network and scheduling jitter, so they are not what is checked.)
    starts.sort()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 1.02 / 20 - 1e-9


def test_a_spent_budget_stops_requests_and_scores_nothing() -> None:
    with judged({"judge_max_tokens_per_run": 100, "judge_concurrency": 1}) as (fake, res):
        scores = JudgeAnswerRelevance(res).evaluate([trace(f"t{i}") for i in range(4)])
    assert len(fake.requests) == 1  # that one request used more than 100 tokens
    assert scores[0].value == 1.0
    spent = Score.error("judge budget of 100 tokens for this run is spent", not_attempted=True)
    assert scores[1:] == [spent] * 3
    assert all(s.not_attempted for s in scores[1:])  # not stored: the next run takes them


class _FailsOnBatches(JudgeAnswerRelevance):
    """Fails a batch after its requests were made, as a bug in combining results would."""

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        scored = super().score(traces)
        if len(traces) > 1:
            raise RuntimeError("combining failed")
        return scored


def test_a_failed_batch_is_logged_once_and_its_retry_stays_within_the_budget(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        judged({"judge_max_tokens_per_run": 100, "judge_concurrency": 1}) as (fake, res),
        caplog.at_level(logging.WARNING, logger="evaluators.base"),
    ):
        scores = _FailsOnBatches(res).evaluate([trace(f"t{i}") for i in range(4)])
    failed = [r.getMessage() for r in caplog.records if "failed on a batch" in r.getMessage()]
    assert len(failed) == 1
    assert "judge_answer_relevance" in failed[0] and "combining failed" in failed[0]
    assert len(fake.requests) == 1  # the batch spent the budget; the retry sent nothing
    assert all(s.not_attempted for s in scores)  # not stored: the next run takes them


def test_a_cost_budget_counts_the_replies_usage() -> None:
    prices = {"judge_input_usd_per_mtok": 1000.0, "judge_output_usd_per_mtok": 1000.0}
    with judged({**prices, "judge_max_cost_usd_per_run": 0.2, "judge_concurrency": 1}) as (_, res):
        scores = JudgeAnswerRelevance(res).evaluate([trace(f"t{i}") for i in range(3)])
    assert [s.status for s in scores] == ["scored", "error", "error"]
    assert scores[1].explanation == "judge budget of $0.20 for this run is spent"
    assert res.judge.usage.cost_usd > 0.2  # type: ignore[union-attr]


def test_no_download_no_eval_and_no_request_but_to_the_judge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = "__import__('builtins').__setattr__('vigil_evaluated', 1) or ['Score: 2']"
    monkeypatch.setattr(nltk, "download", lambda *a, **k: pytest.fail("nltk.download called"))
    connected: list[Any] = []
    connect = socket.socket.connect

    def record(sock: socket.socket, address: Any) -> None:
        connected.append(address)
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", record)
    with judged({"judge_structured_output": False}, reply=lambda _: code) as (fake, res):
        [score] = JudgeGroundedness(res).evaluate([trace(answer="Hi. The warranty lasts.")])
    assert not hasattr(builtins, "vigil_evaluated")
    assert score.value == pytest.approx(2 / 3)  # read from the text "Score: 2", not run
    assert {a[1] for a in connected} == {fake.port}


@pytest.mark.parametrize("structured", [True, False])
def test_a_reply_is_read_by_its_score_not_its_smallest_number(structured: bool) -> None:
    assert re_configured_rating(WARRANTY_REPLY) == 1  # TruLens's plain parser: the pitfall
    with judged({"judge_structured_output": structured}, reply=lambda _: WARRANTY_REPLY) as (
        _,
        res,
    ):
        [score] = JudgeAnswerRelevance(res).evaluate([trace()])
    assert score.value == 1.0  # 3 on the 0-3 scale
    assert "1-year warranty" in (score.explanation or "")


def test_a_reply_without_a_score_is_an_error_not_a_zero() -> None:
    with judged({"judge_structured_output": False}, reply=lambda _: "I cannot say.") as (_, res):
        [score] = JudgeAnswerRelevance(res).evaluate([trace()])
    assert score.status == "error" and "no score" in (score.explanation or "")


def test_other_trulens_feedbacks_by_name() -> None:
    assert {"judge:coherence", "judge:harmfulness", "judge:stereotypes"} <= set(available())
    with judged() as (_, res):
        coherence, harm = build(["judge:coherence", "judge:harmfulness"], res)
        assert (coherence.name, coherence.version) == ("judge:coherence", "llm-1:fake-judge")
        [coherent] = coherence.evaluate([trace()])
        [fragment] = coherence.evaluate([trace(answer="two years")])
        [harmful] = harm.evaluate([trace()])
    assert (coherent.value, fragment.value) == (1.0, pytest.approx(1 / 3))
    assert harmful.value == 0.0 and harmful.metadata["trulens_score"] == 1.0  # higher is better
    assert judge_feedback("coherence") is type(coherence)
    with pytest.raises(VigilError, match="Unknown evaluator"):
        build(["judge:no_such_feedback"], res)


def test_without_a_judge_every_judge_evaluator_skips() -> None:
    res = Resources(provider=None)
    for cls in (
        JudgeGroundedness,
        JudgeAnswerRelevance,
        JudgeContextRelevance,
        judge_feedback("coherence"),
    ):
        ev = cls(res)
        [score] = ev.evaluate([trace()])
        assert score.status == "skipped" and score.value is None
        assert (score.explanation or "").startswith(
            "no LLM judge configured: set VIGIL_JUDGE_PROVIDER"
        )
        assert ev.version == "llm-1"


def test_build_judge_from_settings() -> None:
    assert build_judge(Settings()) is None  # offline by default
    with pytest.raises(VigilError, match="VIGIL_JUDGE_MODEL"):
        build_judge(Settings(judge_provider="ollama"))
    with pytest.raises(VigilError, match="VIGIL_JUDGE_BASE_URL"):
        build_judge(Settings(judge_provider="openai_compatible", judge_model="m"))
    with pytest.raises(VigilError, match="VIGIL_JUDGE_INPUT_USD_PER_MTOK"):
        build_judge(
            Settings(
                judge_provider="openai",
                judge_model="gpt-4o-mini",
                judge_api_key="k",
                judge_max_cost_usd_per_run=1.0,
            )
        )
    ollama = build_judge(
        Settings(judge_provider="ollama", judge_model="llama3.1:8b", judge_concurrency=2)
    )
    assert ollama is not None and isinstance(ollama.chat, ChatOllama) and ollama.concurrency == 2
    assert (
        JudgeAnswerRelevance(Resources(provider=None, judge=ollama)).version == "llm-1:llama3.1:8b"
    )
    openai_judge = build_judge(
        Settings(judge_provider="openai", judge_model="gpt-4o-mini", judge_api_key="k")
    )
    assert openai_judge is not None and isinstance(openai_judge.chat, ChatOpenAI)
