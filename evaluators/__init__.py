"""Evaluators: per-trace judgements behind one small typed contract."""

from evaluators.base import Evaluator, Resources, VectorStore
from evaluators.registry import DEFAULT_EVALUATORS, available, build, register
from vigil.models import Score

__all__ = [
    "DEFAULT_EVALUATORS",
    "Evaluator",
    "Resources",
    "Score",
    "VectorStore",
    "available",
    "build",
    "register",
]
