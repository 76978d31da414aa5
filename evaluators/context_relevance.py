"""Context relevance (RAG triad): is each retrieved chunk about the question?

Each chunk is scored on its own (the best cosine similarity of the question to one of its
sentences, so that a long chunk with one relevant passage still counts); the trace's value
is the mean over chunks, and the per-chunk scores are kept in the metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.providers.minilm import MiniLMProvider
from evaluators.registry import register
from evaluators.text import sentences
from vigil.models import Score, Trace


@register
class ContextRelevance(Evaluator):
    name = "context_relevance"
    version = "minilm-1"
    needs: ClassVar[frozenset[Need]] = frozenset({"question", "contexts"})

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        provider = self.resources.provider
        assert isinstance(provider, MiniLMProvider)
        texts = [t.input or "" for t in traces]
        texts += [s for t in traces for c in t.contexts for s in sentences(c) or [c]]
        provider.warm(texts)
        out = []
        for t in traces:
            kept = [c for c in sorted(t.retrievals, key=lambda c: c.rank or 0) if c.content.strip()]
            values = [round(provider.context_relevance(t.input or "", c.content), 4) for c in kept]
            value = sum(values) / len(values)
            best = max(range(len(kept)), key=values.__getitem__)
            chunks = [{"rank": c.rank, "document_id": c.document_id, "score": v}
                      for c, v in zip(kept, values, strict=True)]  # fmt: skip
            out.append(
                Score.scored(
                    value,
                    f"mean over {len(kept)} chunk(s) = {value:.3f}; best: rank {kept[best].rank}"
                    f" ({values[best]:.2f})",
                    chunks=chunks,
                )
            )
        return out
