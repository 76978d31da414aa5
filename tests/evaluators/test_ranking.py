"""Ranking metrics against hand-computed values, and the golden-set evaluators built on them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evaluators import Resources
from evaluators.ndcg import NDCGAtK
from evaluators.ranking import first_relevant_rank, ndcg_at_k, recall_at_k, reciprocal_rank
from evaluators.recall_at_k import RecallAtK
from evaluators.reciprocal_rank import ReciprocalRank
from vigil.models import Retrieval, Trace

# 1 / log2(rank + 1) for ranks 1..4
D1, D2, D3, D4 = 1.0, 0.6309297535714575, 0.5, 0.43067655807339306


def test_recall_counts_relevant_ids_in_the_top_k() -> None:
    ranked = ["a", "b", "c", "d"]
    relevant = {"b", "d", "e"}
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 1) == 0.0
    assert recall_at_k(ranked, relevant, 10) == pytest.approx(2 / 3)  # k beyond the list


def test_reciprocal_rank_of_the_first_relevant_id() -> None:
    assert reciprocal_rank(["x", "y", "r", "s"], {"r", "s"}) == pytest.approx(1 / 3)
    assert first_relevant_rank(["x", "y", "r", "s"], {"r", "s"}) == 3
    assert reciprocal_rank(["r", "x"], {"r"}) == 1.0
    assert reciprocal_rank(["x", "y", "r"], {"r"}, k=2) == 0.0  # outside the top k
    # MRR is the mean over queries: (1/3 + 1 + 0) / 3
    mrr = (
        reciprocal_rank(["x", "y", "r"], {"r"})
        + reciprocal_rank(["r"], {"r"})
        + reciprocal_rank(["x"], {"r"})
    ) / 3
    assert mrr == pytest.approx(4 / 9)


def test_ndcg_discounts_by_log2_of_the_rank() -> None:
    # relevant at ranks 2 and 4; the ideal ranking puts them at 1 and 2
    assert ndcg_at_k(["a", "b", "c", "d"], {"b", "d"}, 4) == pytest.approx((D2 + D4) / (D1 + D2))
    assert ndcg_at_k(["a", "b", "c", "d"], {"b", "d"}, 4) == pytest.approx(0.6509209298071326)
    # three relevant ids but k = 2: the ideal DCG has only two of them
    assert ndcg_at_k(["r1", "x"], {"r1", "r2", "r3"}, 2) == pytest.approx(D1 / (D1 + D2))
    # one relevant at rank 3 of 3 relevant ids
    assert ndcg_at_k(["x", "y", "r", "z"], {"r", "s", "t"}, 4) == pytest.approx(D3 / (D1 + D2 + D3))
    assert ndcg_at_k(["r", "s"], {"r", "s"}, 2) == 1.0


def test_no_relevant_id_retrieved_scores_zero_everywhere() -> None:
    ranked, relevant = ["a", "b", "c"], {"z"}
    assert recall_at_k(ranked, relevant, 3) == 0.0
    assert reciprocal_rank(ranked, relevant) == 0.0
    assert first_relevant_rank(ranked, relevant) is None
    assert ndcg_at_k(ranked, relevant, 3) == 0.0


def test_a_repeated_id_counts_once_at_its_first_rank() -> None:
    assert reciprocal_rank(["a", "a", "b"], {"b"}) == 0.5
    assert ndcg_at_k(["b", "b"], {"b", "c"}, 2) == pytest.approx(D1 / (D1 + D2))
    assert recall_at_k(["b", "b", "c"], {"b", "c"}, 2) == 1.0


def test_undefined_metrics_raise() -> None:
    with pytest.raises(ValueError, match="without relevant ids"):
        recall_at_k(["a"], set(), 1)
    with pytest.raises(ValueError, match="without relevant ids"):
        ndcg_at_k(["a"], [], 1)
    with pytest.raises(ValueError, match="k must be at least 1"):
        recall_at_k(["a"], {"a"}, 0)


# -- the golden-set evaluators ------------------------------------------------------------


def golden_trace(ranked: list[str], relevant: list[str] | None) -> Trace:
    # recorded out of order, with explicit ranks: the evaluators must sort by rank
    retrievals = [
        Retrieval(document_id=doc_id, content=f"text of {doc_id}", rank=rank)
        for rank, doc_id in reversed(list(enumerate(ranked)))
    ]
    attributes = {} if relevant is None else {"relevant_document_ids": relevant}
    return Trace(
        id="t",
        app="a",
        start_time=datetime(2026, 1, 1, tzinfo=UTC),
        input="q",
        retrievals=retrievals,
        attributes=attributes,
    )


def test_golden_set_evaluators_score_the_retrieved_ranking() -> None:
    trace = golden_trace(["a", "b", "c", "d"], ["b", "d", "e"])
    resources = Resources(provider=None)
    [recall] = RecallAtK(resources).evaluate([trace])
    [rr] = ReciprocalRank(resources).evaluate([trace])
    [ndcg] = NDCGAtK(resources).evaluate([trace])

    assert recall.value == pytest.approx(2 / 3)
    assert recall.metadata == {"k": 4, "found": ["b", "d"], "missed": ["e"]}
    assert recall.explanation == "recall@4 = 0.67: 2 of 3 relevant documents retrieved; missed: e"
    assert rr.value == 0.5
    assert rr.metadata["first_relevant_rank"] == 2 and rr.metadata["first_relevant_id"] == "b"
    assert ndcg.value == pytest.approx((D2 + D4) / (D1 + D2 + D3))
    assert ndcg.metadata == {"k": 4, "relevant_ranks": [2, 4]}


def test_a_class_attribute_k_fixes_the_cutoff() -> None:
    class RecallAt1(RecallAtK):  # not registered: a cut-off for this test only
        k = 1

    class ReciprocalRankAt1(ReciprocalRank):
        k = 1

    trace = golden_trace(["a", "b", "c"], ["b"])
    [recall] = RecallAt1(Resources(provider=None)).evaluate([trace])
    [rr] = ReciprocalRankAt1(Resources(provider=None)).evaluate([trace])
    assert recall.value == 0.0 and recall.metadata["k"] == 1
    assert rr.value == 0.0 and rr.explanation == "no relevant document in the top 1"


def test_without_a_golden_set_the_metrics_are_skipped() -> None:
    trace = golden_trace(["a", "b"], None)
    for evaluator in (RecallAtK, ReciprocalRank, NDCGAtK):
        [result] = evaluator(Resources(provider=None)).evaluate([trace])
        assert (
            result.status == "skipped" and result.explanation == "trace has no relevant_documents"
        )
