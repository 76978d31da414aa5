"""Groundedness (RAG triad), minilm-3: is every sentence of the answer supported by the
context, and does none of them contradict it?

    score = sigmoid(logit(support) + sum of w_k over the contradiction kinds k that fire)

- ``support`` is minilm-2's score, unchanged (:mod:`evaluators.support`, through
  :meth:`MiniLMProvider.groundedness_measure_with_cot_reasons`): the mean over answer
  sentences of term support with locality.
- The kinds (:mod:`evaluators.contradiction`) are checked per answer sentence against the
  context sentence holding its best support window; a kind counts once per answer.
- Each kind that fires multiplies the odds of the score by ``exp(w_k)``; when none fires
  the score is exactly minilm-2's. The weights are learned on SummEdits by
  ``python -m bench.train_groundedness`` and stored in ``evaluators/data``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from evaluators.base import Evaluator, Need, Resources
from evaluators.contradiction import KINDS, ContextFacts, contradictions, words_to_embed
from evaluators.providers.minilm import MiniLMProvider
from evaluators.registry import register
from evaluators.text import joined
from vigil.models import Score, Trace

WEIGHTS_FILE = "groundedness_minilm3.json"


@dataclass(frozen=True)
class Weights:
    """The log-odds step of each contradiction kind (negative: it lowers the score)."""

    kinds: Mapping[str, float]

    def apply(self, support: float, fired: Iterable[str]) -> float:
        """``sigmoid(logit(support) + steps)``, in odds form so that a support of 0 or 1
        needs no clipping; ``support`` itself when no step applies."""
        step = sum(self.kinds[kind] for kind in fired)
        if step == 0.0:
            return support
        factor = math.exp(step)
        return support * factor / (1.0 - support + support * factor)


def load_weights(path: Path | None = None) -> Weights:
    """The weights file (by default the one shipped in ``evaluators/data``)."""
    source = path or resources.files("evaluators").joinpath("data", WEIGHTS_FILE)
    stored = json.loads(source.read_text(encoding="utf-8"))["weights"]
    missing = [kind for kind in KINDS if kind not in stored]
    if missing:
        raise ValueError(f"{source} has no weight for {', '.join(missing)}: retrain with "
                         "python -m bench.train_groundedness")  # fmt: skip
    return Weights({kind: float(stored[kind]) for kind in KINDS})


@register
class Groundedness(Evaluator):
    name = "groundedness"
    version = "minilm-3"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer", "contexts"})

    def __init__(self, resources: Resources, weights: Weights | None = None) -> None:
        super().__init__(resources)
        self.weights = weights if weights is not None else load_weights()

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        provider = self.resources.provider
        assert isinstance(provider, MiniLMProvider)
        facts = [ContextFacts(joined(t.contexts)) for t in traces]
        words = []
        for t, context in zip(traces, facts, strict=True):
            words += provider.groundedness_words(t.contexts, t.output or "")
            words += words_to_embed(t.output or "", context)
        provider.warm(words)
        return [self._one(provider, t, f) for t, f in zip(traces, facts, strict=True)]

    def _one(self, provider: MiniLMProvider, trace: Trace, facts: ContextFacts) -> Score:
        support, reasons = provider.groundedness_measure_with_cot_reasons(
            trace.contexts, trace.output or ""
        )
        if math.isnan(support):
            return Score.skipped(reasons["reason"])
        fired: dict[str, str] = {}  # kind -> what triggered it, in its first sentence
        rows: list[dict[str, Any]] = []
        for row in reasons["sentences"]:
            found = contradictions(
                row["sentence"], facts, row["evidence_sentence"], provider.word_similarity
            )
            rows.append({**row, "contradictions": found})
            for kind, trigger in found.items():
                fired.setdefault(kind, trigger)
        reason = reasons["reason"]
        if fired:
            reason += "; contradicts the context: " + ", ".join(
                f"{kind} {trigger!r}" for kind, trigger in fired.items()
            )
        return Score.scored(
            self.weights.apply(support, fired), reason,
            sentences=rows, support=support, contradictions=fired,
        )  # fmt: skip
