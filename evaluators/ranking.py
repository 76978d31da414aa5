"""Ranking metrics with binary relevance: recall@k, reciprocal rank and nDCG@k.

Pure functions over a ranked list of ids (best first) and the set of ids a golden set labels
relevant. An id listed twice counts once, at its first rank, as in trec_eval. The mean of
:func:`reciprocal_rank` over queries is MRR.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def _top(ranked: Sequence[str], k: int | None) -> list[str]:
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    unique = list(dict.fromkeys(ranked))
    return unique if k is None else unique[:k]


def _need_relevant(relevant: Collection[str]) -> None:
    if not relevant:
        raise ValueError("the metric is undefined without relevant ids")


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """The share of the relevant ids found in the top k: |top k ∩ relevant| / |relevant|.

    It cannot reach 1 when there are more relevant ids than k.
    """
    _need_relevant(relevant)
    wanted = set(relevant)
    return len(wanted.intersection(_top(ranked, k))) / len(wanted)


def first_relevant_rank(
    ranked: Sequence[str], relevant: Collection[str], k: int | None = None
) -> int | None:
    """The 1-based rank of the first relevant id in the top k, or None when there is none."""
    wanted = set(relevant)
    for rank, item in enumerate(_top(ranked, k), start=1):
        if item in wanted:
            return rank
    return None


def reciprocal_rank(
    ranked: Sequence[str], relevant: Collection[str], k: int | None = None
) -> float:
    """1 / rank of the first relevant id in the top k, 0 when none is there."""
    _need_relevant(relevant)
    rank = first_relevant_rank(ranked, relevant, k)
    return 0.0 if rank is None else 1.0 / rank


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Normalised discounted cumulative gain with binary gains.

    DCG@k sums 1 / log2(rank + 1) over the relevant ids in the top k; the ideal DCG puts
    min(|relevant|, k) relevant ids first. 1 means every top rank holds a relevant id.
    """
    _need_relevant(relevant)
    wanted = set(relevant)
    dcg = sum(
        1.0 / math.log2(rank + 1)
        for rank, item in enumerate(_top(ranked, k), start=1)
        if item in wanted
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return dcg / ideal
