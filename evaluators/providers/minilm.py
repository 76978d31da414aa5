"""A TruLens feedback provider backed by a local sentence-embedding model (MiniLM).

It implements the RAG-triad feedback functions under the names TruLens's LLM providers use
(``relevance``, ``context_relevance``, ``groundedness_measure_with_cot_reasons``), so a
feedback definition works with either. Embeddings are cached by text and computed in batches
through :meth:`warm`, which evaluators call once per batch of traces.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import PrivateAttr
from trulens.core import Provider

from evaluators.text import numbers, proper_terms, sentences, unsupported_facts

CACHE_SIZE = 50_000


class MiniLMProvider(Provider):
    """Offline feedback on cosine similarities of normalised sentence embeddings."""

    _embeddings: Embeddings = PrivateAttr()
    _cache: OrderedDict[str, np.ndarray] = PrivateAttr(default_factory=OrderedDict)

    def __init__(self, embeddings: Embeddings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._embeddings = embeddings

    # -- embeddings -----------------------------------------------------------------
    def warm(self, texts: Iterable[str]) -> None:
        """Embed, in one batch, the texts not cached yet."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if not missing:
            return
        vectors = np.asarray(self._embeddings.embed_documents(missing), dtype=np.float32)
        for text, vec in zip(missing, vectors, strict=True):
            self._cache[text] = vec
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.warm(texts)
        return np.stack([self._cache[t] for t in texts])

    # -- feedback functions -----------------------------------------------------------
    def relevance(self, prompt: str, response: str) -> float:
        """Answer relevance: cosine similarity of question and answer, clipped to [0, 1]."""
        q, a = self.embed([prompt, response])
        return float(np.clip(q @ a, 0.0, 1.0))

    def context_relevance(self, question: str, context: str) -> float:
        """Context relevance: best cosine similarity of the question to a context sentence."""
        parts = sentences(context) or [context]
        sims = self.embed(parts) @ self.embed([question])[0]
        return float(np.clip(sims.max(), 0.0, 1.0))

    def groundedness_measure_with_cot_reasons(
        self, source: str | Sequence[str], statement: str
    ) -> tuple[float, dict[str, Any]]:
        """Groundedness, sentence by sentence.

        Each answer sentence gets the best cosine similarity to any context sentence, scaled
        down by the share of its numbers and names that the context never mentions. The
        score is the mean over sentences; the reasons name the weakest sentence and the
        unsupported facts.
        """
        context = source if isinstance(source, str) else "\n\n".join(source)
        claims = sentences(statement) or [statement.strip()]
        support = sentences(context) or [context]
        sims = self.embed(claims) @ self.embed(support).T  # claims x support
        rows: list[dict[str, Any]] = []
        scores: list[float] = []
        for i, claim in enumerate(claims):
            best = int(sims[i].argmax())
            unsupported = unsupported_facts(claim, context)
            facts = numbers(claim) | proper_terms(claim)
            coverage = 1.0 - len(unsupported) / len(facts) if facts else 1.0
            score = float(np.clip(sims[i, best], 0.0, 1.0)) * coverage
            scores.append(score)
            rows.append(
                {
                    "sentence": claim,
                    "score": round(score, 4),
                    "evidence": support[best],
                    "unsupported": unsupported,
                }
            )
        value = float(np.mean(scores))
        worst = rows[int(np.argmin(scores))]
        reason = f"weakest sentence ({worst['score']:.2f}): {worst['sentence']!r}"
        if worst["unsupported"]:
            reason += f"; not in context: {', '.join(worst['unsupported'])}"
        return value, {"reason": reason, "sentences": rows}
