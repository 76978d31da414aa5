"""Fixtures of the evaluator tests."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.evaluators.sandboxes import left_running


@pytest.fixture
def own_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Sandboxes of this test work under its tmp_path; none may outlive the test."""
    folder = tmp_path / "sandboxes"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    assert left_running(folder) == [], "sandbox processes outlived run_program"
    assert list(folder.iterdir()) == [], "a working directory was not removed"
