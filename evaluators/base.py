"""The evaluator contract.

An evaluator judges traces one batch at a time (so embedding models can batch), declares
what it needs from a trace, and returns one :class:`~vigil.models.Score` per trace: scored
with a value in [0, 1], skipped with a reason, or error with a message. A failure is never
a score of 0.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from vigil.models import Score, Trace

log = logging.getLogger(__name__)

Need = Literal[
    "question",  # trace.input
    "contexts",  # retrieved chunk texts
    "answer",  # trace.output
    "reference",  # an expected answer: attributes.reference
    "document_ids",  # ids of every retrieved chunk
    "relevant_documents",  # a golden set's relevant ids: attributes.relevant_document_ids
    "latency",
    "tokens",
    "cost",
    "tests",  # code items: attributes.test (HumanEval's check(candidate)) and entry_point
]


class VectorStore(Protocol):
    """What a retrieval check needs from the app's vector store
    (:class:`vigil.knowledge_base.PGVectorStore`)."""

    def search(self, vector: Sequence[float], k: int) -> Sequence[Any]: ...


class Judge(Protocol):
    """An LLM judge (:mod:`evaluators.providers.judge`): TruLens feedback by name, with the
    concurrency, retry and budget limits of a run."""

    model: str

    def feedback(self, name: str, /, **arguments: Any) -> tuple[float, dict[str, Any]]: ...


@dataclass(frozen=True)
class Resources:
    """What evaluators may use. Built at the edge (a flow, the CLI) and passed in."""

    provider: Any  # evaluators.providers.MiniLMProvider: the local, offline default
    store: VectorStore | None = None
    judge: Judge | None = None  # configured with VIGIL_JUDGE_* settings; None offline


def missing_needs(trace: Trace, needs: frozenset[Need]) -> list[str]:
    checks = {
        "question": lambda: bool(trace.input and trace.input.strip()),
        "answer": lambda: bool(trace.output and trace.output.strip()),
        "contexts": lambda: any(c.content.strip() for c in trace.retrievals),
        "document_ids": lambda: (
            bool(trace.retrievals) and all(c.document_id for c in trace.retrievals)
        ),
        "reference": lambda: trace.reference is not None,
        "relevant_documents": lambda: bool(trace.relevant_document_ids),
        "latency": lambda: trace.latency_ms is not None,
        "tokens": lambda: trace.tokens_in is not None or trace.tokens_out is not None,
        "cost": lambda: trace.cost_usd is not None,
        "tests": lambda: bool(trace.attributes.get("test") and trace.attributes.get("entry_point")),
    }
    return sorted(need for need in needs if not checks[need]())


class Evaluator(ABC):
    """Base class of every evaluator: subclasses set the class fields and implement ``score``."""

    name: ClassVar[str]
    version: ClassVar[str]
    needs: ClassVar[frozenset[Need]]
    # False for an evaluator whose verdict can change between calls on the same trace (an
    # LLM judge): the CI gate judges such a score again when it lies near its threshold.
    deterministic: ClassVar[bool] = True

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @abstractmethod
    def score(self, traces: Sequence[Trace]) -> list[Score]:
        """Judge traces that have everything in ``needs``; one Score each, in order."""

    def evaluate(self, traces: Sequence[Trace]) -> list[Score]:
        """Judge a batch: skip traces lacking a need, and turn failures into error scores.

        If the batch call fails, each trace is retried alone so that one bad trace does not
        fail its neighbours.
        """
        results: list[Score | None] = [None] * len(traces)
        eligible: list[int] = []
        for i, trace in enumerate(traces):
            missing = missing_needs(trace, self.needs)
            if missing:
                results[i] = Score.skipped(f"trace has no {', '.join(missing)}")
            else:
                eligible.append(i)
        batch = [traces[i] for i in eligible]
        try:
            scored = self.score(batch)
            if len(scored) != len(batch):
                raise RuntimeError(f"{self.name} returned {len(scored)} scores for {len(batch)}")
        except Exception as err:
            log.warning(
                "evaluator %s (v%s) failed on a batch of %d traces, retrying each alone: %s: %s",
                self.name, self.version, len(batch), type(err).__name__, err, exc_info=err,
            )  # fmt: skip
            scored = self._score_each(batch)
        for i, result in zip(eligible, scored, strict=True):
            results[i] = result
        return [r for r in results if r is not None]

    def _score_each(self, traces: Sequence[Trace]) -> list[Score]:
        """Each trace alone, until one comes back not attempted (a judge whose run budget is
        spent): the rest are then not attempted either, so a retry never spends past it."""
        out: list[Score] = []
        for trace in traces:
            if out and out[-1].not_attempted:
                out.append(out[-1])
                continue
            try:
                out.append(self.score([trace])[0])
            except Exception as err:  # recorded as an error score, retried by a later run
                out.append(Score.error(f"{type(err).__name__}: {err}"))
        return out
