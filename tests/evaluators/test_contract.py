"""The evaluator contract: needs, skipped and error states, batch isolation, the registry."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError

from evaluators import DEFAULT_EVALUATORS, Evaluator, Resources, available, build
from evaluators.base import Need
from vigil.errors import VigilError
from vigil.models import Score, Trace


def trace(tid: str, output: str | None = "an answer", **kw: object) -> Trace:
    return Trace(
        id=tid, app="a", start_time="2026-01-01T00:00:00Z", input="a question", output=output, **kw
    )  # type: ignore[arg-type]


class LengthEvaluator(Evaluator):
    """Fails on purpose for answers containing 'boom', to test isolation."""

    name = "test_length"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer"})
    calls: ClassVar[list[int]] = []

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        self.calls.append(len(traces))
        out = []
        for t in traces:
            if "boom" in (t.output or ""):
                raise RuntimeError(f"cannot judge {t.id}")
            out.append(Score.scored(min(1.0, len(t.output or "") / 100)))
        return out


def test_missing_needs_are_skipped_with_a_reason() -> None:
    ev = LengthEvaluator(Resources(provider=None))
    results = ev.evaluate([trace("t1"), trace("t2", output=None)])
    assert results[0].status == "scored"
    assert results[1] == Score.skipped("trace has no answer")


def test_one_failing_trace_does_not_fail_its_batch() -> None:
    LengthEvaluator.calls.clear()
    ev = LengthEvaluator(Resources(provider=None))
    results = ev.evaluate([trace("t1"), trace("t2", output="boom"), trace("t3")])
    assert [r.status for r in results] == ["scored", "error", "scored"]
    assert results[1].value is None
    assert results[1].explanation == "RuntimeError: cannot judge t2"
    assert LengthEvaluator.calls == [3, 1, 1, 1]  # the batch, then one at a time


def test_a_failure_can_never_carry_a_value() -> None:
    with pytest.raises(ValidationError):
        Score(status="error", value=0.0, explanation="x")
    with pytest.raises(ValidationError):
        Score(status="skipped", explanation=None)
    with pytest.raises(ValidationError):
        Score(status="scored", value=1.5)


def test_registry_builds_builtins_and_rejects_unknown_names() -> None:
    assert set(DEFAULT_EVALUATORS) <= set(available())
    built = build(["answer_relevance"], Resources(provider=None))
    assert built[0].name == "answer_relevance" and built[0].version
    with pytest.raises(VigilError, match=r"Unknown evaluator.*nope.*Known: answer_relevance"):
        build(["nope"], Resources(provider=None))


def test_a_pinned_version_must_be_the_installed_one() -> None:
    (pinned,) = build(["latency_ms@" + available()["latency_ms"].version], Resources(provider=None))
    assert pinned.name == "latency_ms"
    with pytest.raises(VigilError, match=r"latency_ms@0\.0 \(installed: .*\)\. Runs score"):
        build(["latency_ms@0.0"], Resources(provider=None))


def test_plugins_register_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "vigil_plugin_demo.py").write_text(
        "from tests.evaluators.test_contract import LengthEvaluator as Plugin\n"
    )
    dist = tmp_path / "vigil_plugin_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vigil-plugin-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[vigil.evaluators]\nplugin_length = vigil_plugin_demo:Plugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    found = available()
    assert found["plugin_length"] is LengthEvaluator
    sys.modules.pop("vigil_plugin_demo", None)
