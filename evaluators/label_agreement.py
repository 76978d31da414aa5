"""How well an evaluator's scores agree with human labels, and the trivial baselines it must
beat: ROC-AUC, the best F1 over thresholds, a length-matched subset (so that answer length
alone cannot separate the labels), and plain word overlap. Used by the quality benchmark and
the tests on labelled data."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

_WORD = re.compile(r"\w+")


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Probability that a positive outranks a negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


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
