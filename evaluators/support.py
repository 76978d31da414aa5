"""Is a claim supported by a context? Term support with locality, the core of groundedness.

A claim (one answer sentence) is supported when its content terms occur in the context,
and occur *together*, within one sentence (a window of about a sentence's length, never
across a sentence end). An answer that recombines words from different sentences ("Hot
Rod was founded in 1987", where the context says that another magazine was founded in
1987) is the common hallucination that bag-of-words overlap misses. Numbers and names
must match literally; other words may match a near-synonym (embedding similarity of the
two words, scored between ``SOFT_FLOOR`` and ``SOFT_FULL``).

score = (weighted share of claim terms found anywhere) x (best share found in one window)
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from evaluators.text import Term, sentence_ends

WINDOW_TERMS = 12  # content terms in a window: about one sentence of prose
SOFT_FLOOR = 0.6  # word cosine at which a near-synonym starts to count
SOFT_FULL = 0.9  # word cosine at which it counts as the same word
STRICT_WEIGHT = 2.0  # numbers and names weigh double

# cosine similarities of (claim words x context words), lower-cased
WordSimilarity = Callable[[Sequence[str], Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Support:
    score: float
    unsupported: list[str]  # claim terms found nowhere in the context
    evidence: str  # the context window that supports the claim best
    # the context sentence holding that window (an index of text.sentence_spans); None
    # when the context has no terms
    sentence: int | None


def soft_candidates(claim: Sequence[Term], context: Sequence[Term]) -> tuple[list[str], list[str]]:
    """Words that need embeddings: claim words without a literal match, and the context's."""
    keys = {t.key for t in context}
    loose = [t.text.lower() for t in claim if not t.strict and t.key not in keys]
    if not loose:
        return [], []
    return loose, sorted({t.text.lower() for t in context})


def support(
    claim: Sequence[Term], context: Sequence[Term], text: str, similar: WordSimilarity
) -> Support:
    """How well ``context`` (the terms of ``text``) supports ``claim`` (non-empty)."""
    if not context:
        return Support(0.0, [t.text for t in claim], "", None)
    context_keys = np.array([k.key for k in context])
    matrix = (np.array([c.key for c in claim])[:, None] == context_keys[None, :]).astype(float)
    loose = [i for i, t in enumerate(claim) if not t.strict and matrix[i].max() < 1.0]
    if loose:
        sims = similar([claim[i].text.lower() for i in loose], [k.text.lower() for k in context])
        soft = np.clip((sims - SOFT_FLOOR) / (SOFT_FULL - SOFT_FLOOR), 0.0, 1.0)
        matrix[loose] = np.maximum(matrix[loose], soft)
    weights = np.array([STRICT_WEIGHT if t.strict else 1.0 for t in claim])
    weights /= weights.sum()
    found = matrix.max(axis=1)
    best, first, last, sentence = -1.0, 0, 0, 0
    for number, lo, hi in _sentence_bounds(context, text):
        width = min(WINDOW_TERMS, hi - lo)
        by_window = weights @ sliding_window_view(matrix[:, lo:hi], width, axis=1).max(axis=2)
        i = int(by_window.argmax())
        if by_window[i] > best:
            best, first, last, sentence = float(by_window[i]), lo + i, lo + i + width - 1, number
    return Support(
        score=float(weights @ found) * best,
        unsupported=[t.text for t, f in zip(claim, found, strict=True) if f < 0.5],
        evidence=text[context[first].start : context[last].end],
        sentence=sentence,
    )


def _sentence_bounds(context: Sequence[Term], text: str) -> list[tuple[int, int, int]]:
    """``(sentence, lo, hi)``: the [lo, hi) range of the terms of each sentence of ``text``
    that has any (windows never cross a sentence end); ``sentence`` counts the sentence ends
    before it, as :func:`evaluators.text.sentence_spans` numbers them."""
    ends = sentence_ends(text)
    numbers = [bisect_right(ends, term.start) for term in context]
    cuts = [i for i in range(1, len(context)) if numbers[i] != numbers[i - 1]]
    return [(numbers[lo], lo, hi) for lo, hi in zip([0, *cuts], [*cuts, len(context)], strict=True)]
