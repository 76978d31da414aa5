"""How well an evaluator agrees with reviewers' labels, at its threshold and at the one the
labels suggest: precision, recall and Cohen's kappa (scikit-learn), and the threshold that
maximises Youden's J. The Evaluators page shows them per evaluator and week.

The positive class is *bad*: an evaluator flags a trace when its score is below the
threshold (as the detector's below-threshold rate counts it), and a reviewer's label says
whether the trace was bad. Which labels count as bad depends on what the evaluator judges
(:data:`BAD_LABELS`, :func:`label_class`); labels that say nothing about it are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import cohen_kappa_score, precision_score, recall_score

from evaluators.label_agreement import roc_auc

GOOD_LABELS = frozenset({"correct"})
_SAFETY = frozenset({"unsafe"})
_GROUNDEDNESS = frozenset({"hallucinated"})
_ANSWER_RELEVANCE = frozenset({"irrelevant"})
# A retrieval evaluator judges the context: a reviewer's "bad_retrieval", or an answer
# "irrelevant" because of what was retrieved, is its bad class.
_RETRIEVAL = frozenset({"bad_retrieval", "irrelevant"})
# Which reviewers' labels mean "bad" for each evaluator that a label speaks to, by its
# registered name (a test checks each is one). An evaluator not here (reference metrics,
# ``judge:<criterion>``, the operational measures, plugins) judges something no label
# names, so its scores are not compared with the labels at all.
BAD_LABELS: dict[str, frozenset[str]] = {
    "pii_leak": _SAFETY, "prompt_injection": _SAFETY,
    "judge_pii_leak": _SAFETY, "judge_prompt_injection": _SAFETY,
    "groundedness": _GROUNDEDNESS, "judge_groundedness": _GROUNDEDNESS,
    "answer_relevance": _ANSWER_RELEVANCE, "judge_answer_relevance": _ANSWER_RELEVANCE,
    "context_relevance": _RETRIEVAL, "judge_context_relevance": _RETRIEVAL,
    "retrieval_confidence": _RETRIEVAL, "retrieval_agreement": _RETRIEVAL,
    "recall_at_k": _RETRIEVAL, "ndcg_at_k": _RETRIEVAL, "reciprocal_rank": _RETRIEVAL,
    "stale_context": _RETRIEVAL,
}  # fmt: skip
MIN_LABELS = 30  # fewest labelled scores a threshold suggestion rests on


def bad_labels(evaluator: str) -> frozenset[str]:
    """The labels that mean "bad" for this evaluator (none for one not in :data:`BAD_LABELS`)."""
    return BAD_LABELS.get(evaluator, frozenset())


def label_class(evaluator: str, label: str) -> bool | None:
    """True: the label says the trace was bad for this evaluator; False: good ("correct");
    None: the label says nothing about what it judges (e.g. "unsafe" for groundedness,
    "other" for any), or no label speaks to the evaluator (one not in :data:`BAD_LABELS`)."""
    bad = bad_labels(evaluator)
    if not bad:
        return None
    if label in GOOD_LABELS:
        return False
    if label in bad:
        return True
    return None


@dataclass(frozen=True)
class Agreement:
    """Agreement of one evaluator's flags (score < threshold) with the labels."""

    n: int  # labelled scores
    bad: int  # of which labelled bad
    precision: float | None  # of the flagged, the share labelled bad (None: none flagged)
    recall: float | None  # of those labelled bad, the share flagged (None: none bad)
    kappa: float | None  # Cohen's kappa (None: undefined, e.g. one class on both sides)
    roc_auc: float | None  # of the raw scores against the labels (None: one class only)


def agreement(values: Sequence[float], bad: Sequence[bool], threshold: float) -> Agreement:
    """Precision, recall and Cohen's kappa of "score < ``threshold``" against ``bad``."""
    truth = np.asarray(bad, dtype=bool)
    flagged = np.asarray(values, dtype=float) < threshold
    n, positives = len(truth), int(truth.sum())
    if n == 0:
        return Agreement(0, 0, None, None, None, None)
    precision = float(precision_score(truth, flagged, zero_division=0)) if flagged.any() else None
    recall = float(recall_score(truth, flagged, zero_division=0)) if positives else None
    kappa = _kappa(truth, flagged)
    auc = roc_auc([int(b) for b in truth], [-v for v in values]) if 0 < positives < n else None
    return Agreement(n, positives, precision, recall, kappa, auc)


def _kappa(truth: np.ndarray, flagged: np.ndarray) -> float | None:
    """Cohen's kappa; undefined (None) when chance agreement is total (p_e = 1)."""
    p_truth, p_flag = truth.mean(), flagged.mean()
    chance = p_truth * p_flag + (1 - p_truth) * (1 - p_flag)
    if chance >= 1.0:
        return None
    return float(cohen_kappa_score(truth, flagged))


@dataclass(frozen=True)
class Suggestion:
    """A threshold the labels support, or why there is none."""

    threshold: float | None
    n: int  # labelled scores it rests on
    youden_j: float | None  # recall - false-positive rate at it
    reason: str = ""  # why no threshold is suggested


def suggest_threshold(
    values: Sequence[float], bad: Sequence[bool], min_labels: int = MIN_LABELS
) -> Suggestion:
    """The threshold t (flag when score < t) that maximises Youden's J, the recall of bad
    traces minus the share of good ones flagged, over every labelled score as a candidate
    (the lowest of equal bests). Refused under ``min_labels`` labelled scores, or without
    both a good and a bad label."""
    n = len(values)
    truth = np.asarray(bad, dtype=bool)
    if n < min_labels:
        return Suggestion(None, n, None, f"{n} labelled scores; at least {min_labels} needed")
    positives = int(truth.sum())
    if positives in (0, n):
        which = "bad" if positives == 0 else "good"
        return Suggestion(None, n, None, f"no trace labelled {which} yet")
    scores = np.asarray(values, dtype=float)
    candidates = np.unique(scores)
    flagged = scores[None, :] < candidates[:, None]  # one row per candidate threshold
    tpr = (flagged & truth).sum(axis=1) / positives
    fpr = (flagged & ~truth).sum(axis=1) / (n - positives)
    j = tpr - fpr
    best = int(np.argmax(j))
    return Suggestion(float(candidates[best]), n, float(j[best]))
