"""Prompt injection: instructions aimed at the model in the question or the retrieved chunks.

The "check for prompt injection" step of a hallucination diagnosis: an answer that follows
an instruction planted in a chunk is wrong for a reason no groundedness score explains.

Scale: 1.0 when no pattern matched, 0.5 when only medium-confidence patterns matched
(phrasings with benign uses, such as a ``<system>`` tag), 0.0 when any high-confidence
pattern matched. The patterns live in :mod:`evaluators.safety_patterns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from evaluators.base import Evaluator, Need
from evaluators.injection_scan import find_injections
from evaluators.registry import register
from evaluators.safety_patterns import Hit
from vigil.models import Score, Trace

MAX_HITS = 20  # kept in metadata; the explanation and the value use all of them


@register
class PromptInjection(Evaluator):
    name = "prompt_injection"
    version = "heuristic-1"
    needs: ClassVar[frozenset[Need]] = frozenset({"question"})  # chunks are scanned if present

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        return [heuristic_score(t) for t in traces]


def heuristic_score(trace: Trace) -> Score:
    """Scan the question, then every chunk in rank order, with the pattern set."""
    found: list[tuple[dict[str, Any], Hit]] = [
        ({"location": "question"}, hit) for hit in find_injections(trace.input or "")
    ]
    chunks = sorted(trace.retrievals, key=lambda c: c.rank or 0)
    for chunk in chunks:
        where = {"location": "chunk", "rank": chunk.rank, "document_id": chunk.document_id}
        found += [(where, hit) for hit in find_injections(chunk.content, document=True)]
    scanned = f"the question and {len(chunks)} retrieved chunk{'s' if len(chunks) != 1 else ''}"
    if not found:
        return Score.scored(1.0, f"no prompt-injection pattern in {scanned}", hits=[])
    high = any(hit.confidence == "high" for _, hit in found)
    places: dict[str, list[str]] = {}
    for where, hit in found:
        tactics = places.setdefault(describe_location(where), [])
        if hit.tactic not in tactics:
            tactics.append(hit.tactic)
    summary = "; ".join(f"{place}: {', '.join(tactics)}" for place, tactics in places.items())
    explanation = (
        f"{'high' if high else 'medium'}-confidence prompt injection in {summary}"
        f" ({len(found)} hit{'s' if len(found) != 1 else ''} in {scanned})"
    )
    hits = [
        {
            **where,
            "tactic": hit.tactic,
            "pattern": hit.pattern,
            "confidence": hit.confidence,
            "excerpt": hit.excerpt,
        }
        for where, hit in found[:MAX_HITS]
    ]
    return Score.scored(0.0 if high else 0.5, explanation, hits=hits)


def describe_location(where: dict[str, Any]) -> str:
    if where["location"] == "question":
        return "the question"
    doc = f" ({where['document_id']})" if where.get("document_id") else ""
    return f"chunk {where['rank']}{doc}"
