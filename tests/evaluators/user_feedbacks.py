"""TruLens feedbacks as a user would define them in their own package, for the tests of
VIGIL_EXTRA_EVALUATORS (``tests.evaluators.user_feedbacks:<name>``)."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
from trulens.core import Feedback
from trulens.core.schema.select import Select as TruLensSelect

warnings.filterwarnings("ignore", category=DeprecationWarning, module="trulens")
Select: Any = TruLensSelect  # its attributes are Lens paths built on access


def question_words_in_answer(question: str, answer: str) -> float:
    """The share of the question's words that the answer repeats."""
    asked = set(question.lower().split())
    return len(asked & set(answer.lower().split())) / max(len(asked), 1)


def mentions_paris(context: str) -> float:
    return 1.0 if "paris" in context.lower() else 0.0


def share_mentioning_paris(contexts: list[str]) -> float:
    return sum("paris" in c.lower() for c in contexts) / len(contexts)


def out_of_range(answer: str) -> float:
    return 7.0  # a 0-10 scale the function forgot to normalise


# TruLens 2's default selectors (OTEL mode): input, output, the retriever's contexts.
echo = Feedback(question_words_in_answer, name="echo").on_input().on_output()
paris_per_chunk = Feedback(mentions_paris, name="paris_per_chunk", agg=np.mean).on_context(
    collect_list=False
)
paris_share = Feedback(share_mentioning_paris, name="paris_share").on_context(collect_list=True)
ten_scale = Feedback(out_of_range, name="ten_scale").on_output()

# TruLens's record selectors (Lenses), which need TRULENS_OTEL_TRACING=0 when defined.
_before = os.environ.get("TRULENS_OTEL_TRACING")
os.environ["TRULENS_OTEL_TRACING"] = "0"
try:
    echo_lens = Feedback(question_words_in_answer, name="echo_lens").on(
        question=Select.RecordInput, answer=Select.RecordOutput
    )
    paris_lens = Feedback(mentions_paris, name="paris_lens", agg=np.mean).on(
        context=Select.RecordCalls.retrieve.rets[:]
    )
    app_selector = Feedback(mentions_paris, name="app_selector").on(context=Select.App.name)
finally:
    if _before is None:
        del os.environ["TRULENS_OTEL_TRACING"]
    else:
        os.environ["TRULENS_OTEL_TRACING"] = _before

not_a_feedback = "groundedness"
