"""Imports every built-in evaluator module so that their ``@register`` runs."""

from evaluators import answer_relevance, groundedness, retrieval_agreement

__all__ = ["answer_relevance", "groundedness", "retrieval_agreement"]
