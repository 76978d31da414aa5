"""A TruLens feedback provider backed by a local sentence-embedding model (MiniLM).

It implements the RAG-triad feedback functions under the names TruLens's LLM providers use
(``relevance``, ``context_relevance``, ``groundedness_measure_with_cot_reasons``), so a
feedback definition works with either. Embeddings are cached by text and computed in batches
through :meth:`warm`, which evaluators call once per batch of traces.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import PrivateAttr
from trulens.core import Provider

from evaluators.support import soft_candidates, support
from evaluators.text import joined, sentences, terms

CACHE_SIZE = 50_000


class MiniLMProvider(Provider):
    """Offline feedback on cosine similarities of normalised sentence embeddings."""

    _embeddings: Embeddings = PrivateAttr()
    _cache: OrderedDict[str, np.ndarray] = PrivateAttr(default_factory=OrderedDict)

    def __init__(self, embeddings: Embeddings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._embeddings = embeddings

    # -- embeddings -----------------------------------------------------------------
    # The cache is read into a local first: each ``self._cache`` goes through pydantic's
    # __getattr__, which cost as much as the groundedness arithmetic on a warm cache.
    def warm(self, texts: Iterable[str]) -> None:
        """Embed, in one batch, the texts not cached yet."""
        cache = self._cache
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if not missing:
            return
        vectors = np.asarray(self._embeddings.embed_documents(missing), dtype=np.float32)
        for text, vec in zip(missing, vectors, strict=True):
            cache[text] = vec
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.warm(texts)
        cache = self._cache
        return np.stack([cache[t] for t in texts])

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

    def word_similarity(self, words: Sequence[str], others: Sequence[str]) -> np.ndarray:
        """Cosine similarities of single words (rows) to other words (columns)."""
        return self.embed(list(words)) @ self.embed(list(others)).T

    def groundedness_words(self, source: str | Sequence[str], statement: str) -> list[str]:
        """The words :meth:`groundedness_measure_with_cot_reasons` will embed, to ``warm``
        a whole batch at once."""
        context = terms(joined(source))
        words: list[str] = []
        for claim in sentences(statement) or [statement]:
            loose, others = soft_candidates(terms(claim), context)
            words += loose + others
        return words

    def groundedness_measure_with_cot_reasons(
        self, source: str | Sequence[str], statement: str
    ) -> tuple[float, dict[str, Any]]:
        """Groundedness, sentence by sentence (see :mod:`evaluators.support`).

        Each answer sentence with content terms is scored by how many of its terms the
        context holds, near each other; the score is the mean over those sentences. When no
        sentence states anything checkable (such as "Yes."), the score is NaN and the
        reasons say so: an evaluator reports that as skipped, never as a number.
        """
        text = joined(source)
        context = terms(text)
        rows: list[dict[str, Any]] = []
        for claim in sentences(statement) or [statement.strip()]:
            claim_terms = terms(claim)
            if not claim_terms:
                continue
            found = support(claim_terms, context, text, self.word_similarity)
            rows.append({"sentence": claim, "score": round(found.score, 4),
                         "evidence": found.evidence, "evidence_sentence": found.sentence,
                         "unsupported": found.unsupported})  # fmt: skip
        if not rows:
            return math.nan, {"reason": "the answer states nothing to check against the context",
                              "sentences": []}  # fmt: skip
        value = float(np.mean([r["score"] for r in rows]))
        worst = min(rows, key=lambda r: r["score"])
        reason = f"weakest sentence ({worst['score']:.2f}): {worst['sentence']!r}"
        if worst["unsupported"]:
            reason += f"; not in context: {', '.join(worst['unsupported'])}"
        return value, {"reason": reason, "sentences": rows}
