"""Test doubles for the one boundary Vigil does not own, an LLM endpoint: for Vigil's tests,
its benchmarks, and the tests of evaluator plugins. Each is deterministic and named a fake."""

from vigil.testing.fake_openai import FakeOpenAIServer

__all__ = ["FakeOpenAIServer"]
