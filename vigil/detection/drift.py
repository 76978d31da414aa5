"""Drift of incoming questions: are this window's questions unlike the baseline's?

Each sampled question is embedded. The baseline is split in two by a hash of the trace id:
one half gives the baseline's centroid, the other half the reference: how similar (cosine)
baseline questions are to that centroid. The window's similarities are tested against the
reference's like any other metric (``question_similarity``, a drop is bad), so drift goes
through the same Benjamini-Hochberg pass, floor and attribution as the rest. Holding out
half the baseline keeps the baseline's own questions from looking closer to their centroid
than new ones would. The evidence adds the centroid distance and the new question clusters:
window questions less similar than nearly all of the reference, grouped with k-means, each
shown by its most typical questions.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.vq import kmeans2

NOVEL_QUANTILE = 0.05  # a window question below this quantile of the reference is "new"
MAX_CLUSTERS = 3
EXAMPLES = 3


@dataclass(frozen=True)
class Drift:
    """Similarities to the baseline's centroid, nan where a trace is not in the reference
    or the window sample (the centroid's half of the baseline, or not sampled)."""

    similarity: dict[str, float]  # trace id -> cosine similarity to the baseline centroid
    centroid_distance: float  # 1 - cosine(window centroid, baseline centroid)
    clusters: list[dict[str, Any]]  # the new questions' clusters, with examples


def in_centroid_half(trace_id: str) -> bool:
    """Which half of the baseline makes the centroid (stable across passes)."""
    return hashlib.md5(trace_id.encode()).digest()[0] % 2 == 0


def question_drift(
    ids: list[str], texts: list[str], vectors: np.ndarray, in_window: np.ndarray, seed: int = 0
) -> Drift | None:
    """Drift of the window's questions against the baseline's (vectors: one row each, any
    scale). None when either side is empty."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    half = np.array([in_centroid_half(i) for i in ids], dtype=bool)
    centroid_side, window = ~in_window & half, in_window
    reference = ~in_window & ~half
    if not centroid_side.any() or not window.any() or not reference.any():
        return None
    centroid = _normalised(unit[centroid_side].mean(axis=0))
    sims = unit @ centroid
    scored = window | reference
    distance = 1.0 - float(_normalised(unit[window].mean(axis=0)) @ centroid)
    cutoff = float(np.quantile(sims[reference], NOVEL_QUANTILE))
    novel = np.flatnonzero(window & (sims < cutoff))
    return Drift(
        similarity={ids[i]: float(sims[i]) for i in np.flatnonzero(scored)},
        centroid_distance=distance,
        clusters=clusters(unit[novel], [texts[i] for i in novel], seed),
    )


def clusters(unit: np.ndarray, texts: list[str], seed: int = 0) -> list[dict[str, Any]]:
    """The new questions in at most three groups, largest first, each with the distinct
    questions nearest its centre (a question asked many times counts many times)."""
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
        counts[text] = counts.get(text, 0) + 1
    if not first:
        return []
    distinct = list(first)
    vectors = unit[[first[t] for t in distinct]]
    k = min(MAX_CLUSTERS, len(distinct))
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")  # an empty cluster is dropped below
        centres, labels = kmeans2(vectors, k, minit="++", seed=seed)
    out = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            continue
        nearest = members[np.argsort(-(vectors[members] @ centres[c]))][:EXAMPLES]
        size = sum(counts[distinct[i]] for i in members)
        out.append({"size": size, "examples": [distinct[i] for i in nearest]})
    return sorted(out, key=lambda c: -c["size"])


def _normalised(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)
