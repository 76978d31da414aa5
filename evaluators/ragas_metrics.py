"""RAGAS metrics as Vigil evaluators: ``ragas:faithfulness``, ``ragas:answer_relevancy``
and ``ragas:context_precision`` (``pip install 'vigil-eval[ragas]'``, RAGAS 0.3.1).

Each asks the judge that VIGIL_JUDGE_* configure, through RAGAS's LangChain wrapper: every
request goes through the judge (:meth:`LLMJudge.as_chat_model`), so a run's budget,
concurrency and rate limit hold for RAGAS too. Answer relevancy compares the question with
questions generated from the answer by the packaged MiniLM embeddings, offline. The judge
model is part of the version, as for Vigil's own judge evaluators. A RAGAS failure (a reply
its parser cannot read after its own re-prompts, or no score: NaN) is an error, never a 0.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from evaluators.base import Evaluator, Need
from evaluators.judge_base import NO_JUDGE, JudgeVersion
from evaluators.registry import register_family
from vigil.models import Score, Trace

# Vigil's name: (the RAGAS metric class, what it reads from a trace)
METRICS: dict[str, tuple[str, frozenset[Need]]] = {
    "faithfulness": ("Faithfulness", frozenset({"question", "answer", "contexts"})),
    "answer_relevancy": ("ResponseRelevancy", frozenset({"question", "answer"})),
    "context_precision": (
        "LLMContextPrecisionWithoutReference", frozenset({"question", "answer", "contexts"})
    ),
}  # fmt: skip
TIMEOUT_S = 600  # a whole metric for one trace (faithfulness: two requests and more)
NOT_INSTALLED = "RAGAS is not installed: pip install 'vigil-eval[ragas]' (with -c constraints.txt)"


def ragas_metric(parameter: str) -> type[Evaluator]:
    metric_class, needs = METRICS[parameter]

    class RagasMetric(RagasEvaluator):
        __doc__ = f"RAGAS {metric_class}, judged by the configured LLM judge"
        name = f"ragas:{parameter}"
        metric = metric_class

    RagasMetric.needs = needs
    return RagasMetric


class RagasEvaluator(Evaluator):
    """Scores a batch with one RAGAS metric, its traces concurrently (the judge's limits
    bound the requests in flight)."""

    version = JudgeVersion("ragas-0.3.1")
    deterministic = False
    metric: ClassVar[str]

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        judge: Any = self.resources.judge  # an LLMJudge: RAGAS takes its chat model
        if judge is None:
            return [Score.skipped(NO_JUDGE) for _ in traces]
        try:
            import ragas.metrics
        except ImportError:
            return [Score.skipped(NOT_INSTALLED) for _ in traces]
        from ragas.llms import LangchainLLMWrapper
        from ragas.run_config import RunConfig

        # RAGAS retries itself on top of the judge's own retries: once is enough.
        config = RunConfig(max_retries=1, timeout=TIMEOUT_S)
        arguments: dict[str, Any] = {
            "llm": LangchainLLMWrapper(judge.as_chat_model(), run_config=config)
        }
        if self.metric == "ResponseRelevancy":
            from ragas.embeddings import LangchainEmbeddingsWrapper

            from vigil.embeddings import load_embeddings

            arguments["embeddings"] = LangchainEmbeddingsWrapper(load_embeddings(), config)
        metric = getattr(ragas.metrics, self.metric)(**arguments)
        return asyncio.run(_score_all(metric, traces))


async def _score_all(metric: Any, traces: Sequence[Trace]) -> list[Score]:
    return list(await asyncio.gather(*(_score_one(metric, t) for t in traces)))


async def _score_one(metric: Any, trace: Trace) -> Score:
    from ragas import SingleTurnSample

    sample = SingleTurnSample(
        user_input=trace.input, response=trace.output, retrieved_contexts=trace.contexts
    )
    try:
        value = float(await metric.single_turn_ascore(sample))
    except Exception as err:  # RAGAS's parser, the judge, a timeout: retried by a later run
        return Score.error(f"RAGAS {metric.name}: {type(err).__name__}: {err}"[:1000])
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        return Score.error(
            f"RAGAS {metric.name} gave no score ({value}): for faithfulness, no statement "
            "could be drawn from the answer"
        )
    return Score.scored(value, f"RAGAS {metric.name}")


register_family("ragas", ragas_metric, METRICS)
