"""The agreement math of the Evaluators page, against values worked out by hand."""

from __future__ import annotations

import pytest

from evaluators import available
from evaluators.agreement import (
    BAD_LABELS,
    MIN_LABELS,
    agreement,
    label_class,
    suggest_threshold,
)
from evaluators.label_agreement import roc_auc

# flagged (< 0.5): 0.1 0.2 0.3 0.4; labelled bad: 0.1 0.2 0.6
VALUES = [0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9, 0.4]
BAD = [True, True, False, True, False, False, False, False]


def test_agreement_at_the_threshold() -> None:
    a = agreement(VALUES, BAD, 0.5)

    assert (a.n, a.bad) == (8, 3)
    assert a.precision == pytest.approx(2 / 4)  # TP 2, FP 2
    assert a.recall == pytest.approx(2 / 3)  # FN 1
    # p_o = (2 + 3) / 8; p_e = 3/8 * 4/8 + 5/8 * 4/8 = 0.5; kappa = (0.625 - 0.5) / 0.5
    assert a.kappa == pytest.approx(0.25)
    assert a.roc_auc == pytest.approx(13 / 15)  # a bad trace scores lower in 13 of 15 pairs


def test_agreement_undefined_parts_are_none() -> None:
    a = agreement([0.9, 0.8], [False, False], 0.5)

    assert (a.precision, a.recall, a.kappa, a.roc_auc) == (None, None, None, None)
    assert agreement([], [], 0.5).n == 0


def test_perfect_and_inverted_evaluators() -> None:
    assert agreement([0.1, 0.9], [True, False], 0.5).kappa == pytest.approx(1.0)
    assert agreement([0.9, 0.1], [True, False], 0.5).kappa == pytest.approx(-1.0)


def test_suggested_threshold_maximises_youdens_j() -> None:
    s = suggest_threshold(VALUES, BAD, min_labels=8)

    # below 0.3: both 0.1 and 0.2 (2 of 3 bad), no good one: J = 2/3, the best
    assert s.threshold == pytest.approx(0.3)
    assert s.youden_j == pytest.approx(2 / 3)
    assert s.n == 8


def test_no_suggestion_under_the_minimum_count() -> None:
    s = suggest_threshold(VALUES, BAD)

    assert MIN_LABELS == 30
    assert (s.threshold, s.n) == (None, 8)
    assert "at least 30" in s.reason
    enough = suggest_threshold(VALUES * 4, BAD * 4)
    assert (enough.threshold, enough.n) == (pytest.approx(0.3), 32)


def test_no_suggestion_with_one_class_only() -> None:
    s = suggest_threshold([0.5] * 40, [False] * 40)

    assert s.threshold is None
    assert s.reason == "no trace labelled bad yet"


def test_every_evaluator_in_the_label_map_is_registered() -> None:
    assert set(BAD_LABELS) <= set(available()), set(BAD_LABELS) - set(available())


@pytest.mark.parametrize(
    ("evaluator", "label", "bad"),
    [
        ("groundedness", "correct", False),
        ("groundedness", "hallucinated", True),
        ("judge_groundedness", "hallucinated", True),
        ("groundedness", "unsafe", None),
        ("groundedness", "irrelevant", None),
        ("groundedness", "bad_retrieval", None),
        ("groundedness", "other", None),
        ("answer_relevance", "irrelevant", True),
        ("judge_answer_relevance", "hallucinated", None),
        ("context_relevance", "bad_retrieval", True),
        ("context_relevance", "irrelevant", True),
        ("ndcg_at_k", "bad_retrieval", True),
        ("retrieval_confidence", "unsafe", None),
        ("retrieval_confidence", "correct", False),
        ("pii_leak", "unsafe", True),
        ("judge_prompt_injection", "unsafe", True),
        ("prompt_injection", "hallucinated", None),
        ("judge_pii_leak", "irrelevant", None),
        ("judge_pii_leak", "correct", False),
        # not in the map: no label speaks to it, not even "correct"
        ("bleu", "correct", None),
        ("judge:correctness", "hallucinated", None),
        ("latency_ms", "unsafe", None),
    ],
)
def test_label_classes(evaluator: str, label: str, bad: bool | None) -> None:
    assert label_class(evaluator, label) is bad


def test_roc_auc_counts_ties_half_and_refuses_one_class() -> None:
    # pairs (positive, negative): (0.9 > 0.1) 1, (0.9 > 0.5) 1, (0.5 = 0.5) 0.5, (0.5 > 0.1) 1
    assert roc_auc([1, 0, 1, 0], [0.9, 0.1, 0.5, 0.5]) == pytest.approx(3.5 / 4)
    with pytest.raises(ZeroDivisionError):
        roc_auc([1, 1], [0.2, 0.4])
