"""TruLens feedback providers Vigil uses."""

from evaluators.providers.minilm import MiniLMProvider

__all__ = ["MiniLMProvider"]
