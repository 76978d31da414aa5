"""How well an evaluator's scores agree with human labels, and the trivial baselines it must
beat: ROC-AUC, the best F1 over thresholds, a length-matched subset (so that answer length
alone cannot separate the labels), and plain word overlap. Used by the quality benchmark and
the tests on labelled data."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

_WORD = re.compile(r"\w+")


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Probability that a positive outranks a negative (ties count half), by scikit-learn's
    ``roc_auc_score`` (O(n log n)). A label is positive when truthy. Raises
    ZeroDivisionError when the labels hold one class only, as the pairwise count would."""
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels but {len(scores)} scores")
    truth = np.asarray(labels, dtype=bool)
    if truth.all() or not truth.any():
        raise ZeroDivisionError("ROC-AUC needs both a positive and a negative label")
    return float(roc_auc_score(truth, np.asarray(scores, dtype=float)))


def roc_auc_interval(
    labels: Sequence[int], scores: Sequence[float], *, confidence: float = 0.95,
    resamples: int = 1000, seed: int = 0,
) -> tuple[float, float]:  # fmt: skip
    """Percentile bootstrap interval of :func:`roc_auc`, resampling (label, score) pairs
    within each class, so that every resample holds both classes in their sizes."""
    truth = np.asarray(labels, dtype=bool)
    values = np.asarray(scores, dtype=float)
    if truth.size != values.size:
        raise ValueError(f"{truth.size} labels but {values.size} scores")
    positives, negatives = values[truth], values[~truth]
    if not positives.size or not negatives.size:
        raise ZeroDivisionError("ROC-AUC needs both a positive and a negative label")

    def auc(pos: np.ndarray, neg: np.ndarray, axis: int = -1) -> np.ndarray:
        both = np.concatenate([pos, neg], axis=axis)
        ranks = stats.rankdata(both, axis=axis)  # ties share their mean rank: count half
        rank_sum = np.take(ranks, np.arange(pos.shape[axis]), axis=axis).sum(axis=axis)
        n_pos, n_neg = pos.shape[axis], neg.shape[axis]
        return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)

    result = stats.bootstrap(
        (positives, negatives), auc, vectorized=True, confidence_level=confidence,
        n_resamples=resamples, method="percentile", rng=np.random.default_rng(seed),
    )  # fmt: skip
    low, high = result.confidence_interval
    return float(low), float(high)


def best_f1(labels: Sequence[int], scores: Sequence[float]) -> float:
    best = 0.0
    for threshold in sorted(set(scores)):
        predicted = [s >= threshold for s in scores]
        tp = sum(p and y for p, y in zip(predicted, labels, strict=True))
        fp = sum(p and not y for p, y in zip(predicted, labels, strict=True))
        fn = sum((not p) and y for p, y in zip(predicted, labels, strict=True))
        if tp:
            best = max(best, 2 * tp / (2 * tp + fp + fn))
    return best


def length_matched(records: list[dict]) -> list[int]:
    """Indexes of a subset with equal numbers of each label in every answer-length bucket."""
    buckets: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(records):
        words = len(_WORD.findall(r["answer"]))
        buckets[min(words, 40) // 2][r["label"]].append(i)
    keep: list[int] = []
    for groups in buckets.values():
        n = min(len(groups["grounded"]), len(groups["hallucinated"]))
        keep += groups["grounded"][:n] + groups["hallucinated"][:n]
    return sorted(keep)


def word_overlap(answer: str, context: str) -> float:
    words = set(_WORD.findall(answer.lower()))
    return len(words & set(_WORD.findall(context.lower()))) / max(len(words), 1)
