"""A user's TruLens feedback runs as a Vigil evaluator (evaluators/trulens_feedback.py): its
selectors read the trace's question, answer and chunks, its name and version come from its
definition, and a failure is an error, never a 0. Registered through VIGIL_EXTRA_EVALUATORS."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from langchain_openai import ChatOpenAI
from trulens.core import Feedback
from trulens.providers.langchain import Langchain

from cli.main import cli
from evaluators import Resources, build
from evaluators.registry import available
from evaluators.trulens_feedback import feedback_evaluator
from tests.evaluators import user_feedbacks as user
from vigil.errors import VigilError
from vigil.models import Retrieval, Score, Trace
from vigil.settings import Settings
from vigil.testing.fake_openai import FakeOpenAIServer

warnings.filterwarnings("ignore", category=DeprecationWarning, module="trulens")
PATH = "tests.evaluators.user_feedbacks"
NONE = Resources(provider=None)


def trace(retrievals: tuple[str, ...] = ("Paris is the capital of France.",
                                          "Berlin is in Germany.")) -> Trace:  # fmt: skip
    return Trace(
        id="t1", app="geo", start_time="2026-01-01T00:00:00Z",
        input="What is the capital of France", output="The capital of France is Paris",
        retrievals=[Retrieval(content=c, rank=i) for i, c in enumerate(retrievals)],
    )  # fmt: skip


def run(feedback: Any, on: Trace | None = None) -> Score:
    (score,) = feedback_evaluator(feedback)(NONE).evaluate([on or trace()])
    return score


@pytest.mark.parametrize(
    ("feedback", "needs", "value", "calls"),
    [
        (user.echo, ["answer", "question"], 5 / 6, 1),
        (user.echo_lens, ["answer", "question"], 5 / 6, 1),
        (user.paris_per_chunk, ["contexts"], 0.5, 2),  # one call a chunk, then np.mean
        (user.paris_lens, ["contexts"], 0.5, 2),
        (user.paris_share, ["contexts"], 0.5, 1),  # collect_list: one call, every chunk
    ],
    ids=[
        "on_input/on_output",
        "Select.RecordInput/Output",
        "on_context per chunk",
        "RecordCalls.retrieve.rets[:]",
        "on_context collected",
    ],
)
def test_a_feedback_runs_on_the_traces_fields_whichever_selectors_it_uses(
    feedback: Feedback, needs: list[str], value: float, calls: int
) -> None:
    evaluator = feedback_evaluator(feedback)
    assert evaluator.name == feedback.name and sorted(evaluator.needs) == needs
    assert evaluator.version.startswith("trulens-") and evaluator.deterministic
    score = run(feedback)
    assert score.status == "scored" and score.value == pytest.approx(value)
    assert len(score.metadata["calls"]) == calls
    assert score.metadata["trulens_feedback"] == feedback.name


def test_the_version_follows_the_definition() -> None:
    def again(agg: Any = np.mean, **more: Any) -> str:
        feedback = Feedback(user.mentions_paris, name="paris_per_chunk", agg=agg, **more)
        return feedback_evaluator(feedback.on_context(collect_list=False)).version

    assert again() == again() == feedback_evaluator(user.paris_per_chunk).version
    assert again(agg=np.min) != again()
    assert again(criteria="only the capital counts") != again()


def test_a_trace_without_what_the_feedback_selects_is_skipped() -> None:
    score = run(user.paris_per_chunk, trace(retrievals=()))
    assert score.status == "skipped" and "no contexts" in (score.explanation or "")


def test_what_cannot_be_read_as_a_score_is_an_error_not_a_zero() -> None:
    ten = run(user.ten_scale)
    assert ten.status == "error" and "outside [0, 1]" in (ten.explanation or "")
    with pytest.raises(VigilError, match="no selector for context"):
        feedback_evaluator(Feedback(user.mentions_paris, name="unselected"))
    app = run(user.app_selector)
    assert app.status == "error" and "Select.App.name" in (app.explanation or "")


def judged(reply: str) -> tuple[Score, int]:
    """Langchain's relevance feedback (a TruLens LLM provider) against the fake judge."""
    with FakeOpenAIServer(reply=lambda messages: reply) as fake:
        chat = ChatOpenAI(base_url=fake.base_url, api_key="fake", model="fake-judge",
                          max_retries=0)  # fmt: skip
        provider = Langchain(chain=chat)
        provider.endpoint.retries = 0
        feedback = Feedback(provider.relevance, name="relevance_gpt").on_input().on_output()
        evaluator = feedback_evaluator(feedback)
        assert not evaluator.deterministic  # an LLM judges it
        (score,) = evaluator(NONE).evaluate([trace()])
        return score, len(fake.requests)


def test_a_trulens_llm_provider_feedback_is_judged_by_the_configured_server() -> None:
    score, requests = judged("Criteria: on topic\nSupporting Evidence: it answers\nScore: 2")
    assert requests == 1
    assert score.status == "scored" and score.value == pytest.approx(2 / 3)
    garbage, _ = judged("I would rather not say.")
    assert garbage.status == "error" and garbage.value is None


def test_extra_evaluators_by_path_and_the_errors_that_name_the_fix() -> None:
    assert Settings(extra_evaluators=f" {PATH}:echo , {PATH}:paris_share").extra_evaluator_paths \
        == [f"{PATH}:echo", f"{PATH}:paris_share"]  # fmt: skip
    (echo,) = build(["echo"], NONE, [f"{PATH}:echo"])
    assert echo.evaluate([trace()])[0].value == pytest.approx(5 / 6)
    assert "echo" not in available()
    for path, message in (
        ("tests.evaluators.no_such_module:echo", "cannot import 'tests.evaluators.no_such"),
        (f"{PATH}:missing", "has no 'missing'"),
        (f"{PATH}", "is not module:attribute"),
        (f"{PATH}:not_a_feedback", "is a str: give an Evaluator class or a TruLens Feedback"),
    ):
        with pytest.raises(VigilError, match=message):
            available([path])
    named_like_a_builtin = f"{PATH}:echo"
    with pytest.raises(VigilError, match="is named 'echo', which another evaluator has"):
        available([named_like_a_builtin, named_like_a_builtin])


def test_vigil_evaluators_lists_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_EXTRA_EVALUATORS", f"{PATH}:echo")
    listed = CliRunner().invoke(cli, ["evaluators"])
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.output.splitlines() if x.split()[:1] == ["echo"])
    assert "needs answer, question" in line and "vtrulens-" in line
