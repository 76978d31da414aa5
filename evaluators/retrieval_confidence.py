"""Retrieval confidence: was any retrieved chunk close to the question at all?

The value is the top-1 cosine similarity of the question to the retrieved chunks, clipped to
[0, 1]; below :attr:`RetrievalConfidence.threshold` the label is ``low_confidence``: the
knowledge base held nothing on the question's topic. Chunk vectors are the ones the app
stored (fetched by id in one query per batch, never re-embedded); only the question is
embedded, with ``resources.provider``, which must use the app's embedding model (as for
``retrieval_agreement``). A chunk the store no longer holds as it was retrieved (its id is
gone, or its text changed since) is embedded from the text the trace recorded, and the score
says so.

Threshold 0.35, from MiniLM (all-MiniLM-L6-v2) similarities on real data nobody here wrote:

- SciFact claim vs a relevant abstract (339 pairs): 90% >= 0.35 (median 0.59); top-1 over the
  5,000-abstract corpus: 99% >= 0.35 (median 0.63).
- HotpotQA questions (HaluEval, 300) against that corpus, where nothing is on topic: top-1 94%
  < 0.35 (median 0.22); a SciFact claim vs a random abstract: 98% < 0.35.
- HaluEval question vs its own passage: 95% >= 0.35; vs another question's passage: 99.6% < 0.35.

The best cut-offs (Youden's J) of these pairings lie between 0.27 and 0.37. What the score
cannot see: an on-topic chunk that does not answer. With the relevant abstracts removed, the
SciFact top-1 similarity barely drops (median 0.63 to 0.57, ROC-AUC 0.65): use the golden-set
metrics (recall_at_k, ndcg_at_k) for that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from evaluators.base import Evaluator, Need
from evaluators.providers.minilm import MiniLMProvider
from evaluators.registry import register
from evaluators.retrieval_store import (
    StoredChunk,
    chunk_lookup,
    recorded_texts,
    retrieved_ids,
    same_text,
)
from vigil.models import Score, Trace

Vector = npt.NDArray[np.float32]


def cosine(a: Vector, b: Vector) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norms if norms else 0.0


@register
class RetrievalConfidence(Evaluator):
    """Top-1 similarity of the question to the retrieved chunks; low: no good context existed."""

    name = "retrieval_confidence"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"question", "document_ids"})
    threshold: ClassVar[float] = 0.35

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        lookup = chunk_lookup(self.resources.store)
        if isinstance(lookup, str):
            return [Score.skipped(lookup)] * len(traces)
        provider = self.resources.provider
        assert isinstance(provider, MiniLMProvider)
        ids = [retrieved_ids(t) for t in traces]
        stored = lookup.chunks(list(dict.fromkeys(i for row in ids for i in row)))
        plans = [_plan(trace, row, stored) for trace, row in zip(traces, ids, strict=True)]
        questions = [t.input or "" for t in traces]
        texts = [v for plan in plans for v in plan.values() if isinstance(v, str)]
        provider.warm(questions + texts)  # one batch: the questions and any fallback texts
        out = []
        for row, plan, q in zip(ids, plans, provider.embed(questions), strict=True):
            vectors = {
                doc_id: provider.embed([v])[0] if isinstance(v, str) else v
                for doc_id, v in plan.items()
            }
            from_trace = [doc_id for doc_id, v in plan.items() if isinstance(v, str)]
            out.append(self._judge(q, row, vectors, from_trace))
        return out

    def _judge(
        self, q: Vector, retrieved: list[str], vectors: dict[str, Vector], from_trace: list[str]
    ) -> Score:
        if not vectors:
            return Score.skipped(
                "no retrieved chunk is in the store and the trace recorded no text for them"
            )
        wrong = sorted({v.shape[0] for v in vectors.values()} - {q.shape[0]})
        if wrong:
            return Score.error(
                f"the store's chunk embeddings have {wrong[0]} dimensions but the provider's"
                f" model gives {q.shape[0]}: set VIGIL_EMBEDDING_MODEL to the app's model"
            )
        sims = {doc_id: cosine(q, v) for doc_id, v in vectors.items()}
        top = max(sims, key=sims.__getitem__)
        value = float(np.clip(sims[top], 0.0, 1.0))
        label = "low_confidence" if value < self.threshold else "ok"
        relation = "<" if label == "low_confidence" else ">="
        explanation = f"top-1 cosine(question, {top}) = {value:.3f} {relation} {self.threshold}"
        if label == "low_confidence":
            explanation += ": no retrieved chunk is close to the question"
        if from_trace:
            explanation += (
                "; not in the store as retrieved, embedded from the trace's text: "
                + ", ".join(from_trace)
            )
        unscored = [d for d in retrieved if d not in vectors]
        if unscored:
            explanation += f"; not in the store and no text recorded: {', '.join(unscored)}"
        metadata: dict[str, Any] = {
            "threshold": self.threshold,
            "top_document_id": top,
            "similarities": {d: round(s, 4) for d, s in sims.items()},
            "embedded_from_trace": from_trace,
            "not_scored": unscored,
        }
        return Score(
            status="scored",
            value=value,
            label=label,
            explanation=explanation,
            metadata=metadata,
        )


def _plan(
    trace: Trace, retrieved: list[str], stored: Mapping[str, StoredChunk]
) -> dict[str, Vector | str]:
    """Per chunk, the store's vector or, when the store no longer holds the chunk as it was
    retrieved (gone, rewritten, or without a vector), the recorded text to embed instead.
    Chunks with neither are left out."""
    plan: dict[str, Vector | str] = {}
    for doc_id in retrieved:
        texts = recorded_texts(trace, doc_id)
        chunk = stored.get(doc_id)
        if (
            chunk is not None
            and chunk.embedding is not None
            and all(same_text(chunk.content, t) for t in texts)
        ):
            plan[doc_id] = chunk.embedding
        elif texts:
            plan[doc_id] = texts[0]
    return plan
