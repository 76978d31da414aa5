"""RAGAS metrics as Vigil evaluators (evaluators/ragas_metrics.py) against the fake
OpenAI-compatible judge, answering RAGAS's prompts in the JSON shapes RAGAS 0.3.1 parses:
scored through Vigil's judge, skipped without what they need, an error on a garbage reply."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from evaluators import Resources, build
from tests.fakes.judge import make_judge
from vigil.models import Retrieval, Score, Trace
from vigil.testing.fake_openai import FakeOpenAIServer, content_words

pytest.importorskip("ragas", reason="the ragas extra is not installed (make setup installs it)")


def supported(claim: str, source: str) -> int:
    """The fake's verdict: 1 when the source holds every content word of the claim."""
    return int(content_words(claim) <= content_words(source))


def ragas_reply(messages: list[dict[str, Any]]) -> str:
    """RAGAS's prompt ends with ``input: {json}`` then ``Output:``: answer in its schema."""
    prompt = str(messages[-1]["content"])
    data = json.loads(prompt.rsplit("input: ", 1)[1].rsplit("Output:", 1)[0])
    if "fully understandable statements" in prompt:
        sentences = [s for s in re.split(r"(?<=\.)\s+", data["answer"]) if s]
        return json.dumps({"statements": sentences})
    if "judge the faithfulness of a series of statements" in prompt:
        verdicts = [
            {"statement": s, "reason": "compared", "verdict": supported(s, data["context"])}
            for s in data["statements"]
        ]
        return json.dumps({"statements": verdicts})
    if "Generate a question for the given answer" in prompt:
        return json.dumps({"question": "What is the capital of France?", "noncommittal": 0})
    if "verify if the context was useful" in prompt:
        useful = bool(content_words(data["answer"]) & content_words(data["context"]))
        return json.dumps({"reason": "compared", "verdict": int(useful)})
    raise AssertionError(f"a prompt the fake does not know: {prompt[:200]}")


def trace(answer: str, chunks: tuple[str, ...] = ("Paris is the capital of France.",
                                                   "Berlin is in Germany.")) -> Trace:  # fmt: skip
    return Trace(
        id="t1", app="geo", start_time="2026-01-01T00:00:00Z",
        input="What is the capital of France?", output=answer,
        retrievals=[Retrieval(content=c, rank=i) for i, c in enumerate(chunks)],
    )  # fmt: skip


def scored(name: str, traces: list[Trace], reply: Any = ragas_reply) -> tuple[list[Score], int]:
    with FakeOpenAIServer(reply=reply) as fake:
        (evaluator,) = build([name], Resources(provider=None, judge=make_judge(fake)))
        assert evaluator.version == "ragas-0.3.1:fake-judge" and not evaluator.deterministic
        return evaluator.evaluate(traces), len(fake.requests)


def test_faithfulness_through_vigils_judge() -> None:
    half = "Paris is the capital of France. Berlin is the capital of Spain."
    both = [trace("Paris is the capital of France."), trace(half)]
    (full, partly), requests = scored("ragas:faithfulness", both)
    assert (full.status, full.value) == ("scored", 1.0)
    assert (partly.status, partly.value) == ("scored", 0.5)
    assert requests == 4  # statements, then verdicts, for each trace


def test_answer_relevancy_and_context_precision() -> None:
    (relevancy,), requests = scored("ragas:answer_relevancy", [trace("Paris.")])
    assert relevancy.status == "scored" and relevancy.value == pytest.approx(1.0, abs=1e-3)
    assert requests == 3  # RAGAS asks for three questions; MiniLM embeds them offline
    (precision,), requests = scored("ragas:context_precision", [trace("Paris is the capital.")])
    assert precision.status == "scored" and 0.99 <= (precision.value or 0) <= 1.0
    assert requests == 2  # one verdict a chunk


def test_skipped_without_what_the_metric_needs_or_without_a_judge() -> None:
    (no_chunks,), requests = scored("ragas:faithfulness", [trace("Paris.", chunks=())])
    assert no_chunks.status == "skipped" and "no contexts" in (no_chunks.explanation or "")
    assert requests == 0
    (offline_metric,) = build(["ragas:faithfulness"], Resources(provider=None))
    (offline,) = offline_metric.evaluate([trace("Paris.")])
    assert offline.status == "skipped" and "VIGIL_JUDGE_PROVIDER" in (offline.explanation or "")


def test_a_garbage_reply_is_an_error_not_a_zero() -> None:
    (garbage,), requests = scored("ragas:faithfulness", [trace("Paris.")],
                                  reply=lambda messages: "I would rather not say.")  # fmt: skip
    assert garbage.status == "error" and garbage.value is None
    assert "RagasOutputParserException" in (garbage.explanation or "")
    assert requests >= 2  # RAGAS asks again for the format before it gives up
