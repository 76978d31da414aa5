"""How the gate folds samples and errors into per-item values (no database): a sample not
scored never inflates an item, and a code answer that never came is a failed test."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from evaluators.base import Evaluator, Need, Resources
from flows.gate_candidate import Output, normalize, read_outputs
from flows.gate_scoring import CODE_METRIC, score_outputs
from vigil.gate.config import GateConfig, Rule
from vigil.golden import GoldenItem
from vigil.models import Score, Trace

ITEM = GoldenItem(id="p", input="def f():\n", entry_point="f", test="def check(c): pass\n")


class Scripted(Evaluator):
    """Returns the scripted score for each answer, by the answer's text."""

    name = CODE_METRIC
    version = "scripted"
    needs: ClassVar[frozenset[Need]] = frozenset({"answer"})
    script: ClassVar[dict[str, Score]] = {}

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        return [self.script[t.output or ""] for t in traces]


def _run(outputs: list[Output], samples: int) -> dict[str, float | None]:
    rules = [Rule(metric="pass@1", min=0.0)] + ([Rule(metric="pass@2", min=0.0)]
                                                if samples >= 2 else [])  # fmt: skip
    config = GateConfig(evaluators=[CODE_METRIC], samples=samples, rules=rules)
    scored = score_outputs([Scripted(Resources(provider=None))], [ITEM], outputs, config)
    return {m: scored.values(m)["p"] for m in scored.metrics}


def test_a_sample_the_sandbox_could_not_run_leaves_the_item_unscored() -> None:
    Scripted.script = {"ok": Score.scored(1.0), "broken": Score.error("the sandbox failed")}
    outputs = [Output("p", 0, "ok")] + [Output("p", s, "broken") for s in (1, 2, 3)]
    assert _run(outputs, 4) == {CODE_METRIC: None, "pass@1": None, "pass@2": None}


def test_a_code_answer_that_never_came_is_a_failed_sample() -> None:
    Scripted.script = {"ok": Score.scored(1.0)}
    outputs = [Output("p", 0, "ok"), Output("p", 1, None, error="timed out after 60 s")]
    values = _run(outputs, 2)
    assert values[CODE_METRIC] == 0.5 and values["pass@1"] == 0.5 and values["pass@2"] == 1.0


def test_an_empty_answer_is_an_error_of_the_candidate() -> None:
    assert normalize("p", 0, "  \n").error == "the candidate returned an empty answer"
    assert normalize("p", 0, {"answer": "", "contexts": []}).answer is None
    assert normalize("p", 0, ("yes", ["ctx"])).contexts[0].content == "ctx"
    with pytest.raises(TypeError, match="return a string"):
        normalize("p", 0, 42)


def test_outputs_are_read_from_gzip_files_too(tmp_path: Path) -> None:
    path = tmp_path / "outputs.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"task_id": "p", "completion": "    return 1\n"}) + "\n")
    (out,) = read_outputs(path, [ITEM], 1)
    assert out.answer == "    return 1\n" and out.error is None


def test_in_a_mixed_dataset_a_failed_question_is_no_failed_code_test() -> None:
    Scripted.script = {"ok": Score.scored(1.0)}
    question = GoldenItem(id="q", input="What is the refund window?")
    config = GateConfig(evaluators=[CODE_METRIC], rules=[Rule(metric="pass@1", min=0.0)])
    outputs = [Output("p", 0, "ok"), Output("q", 0, None, error="timed out after 60 s")]
    scored = score_outputs([Scripted(Resources(provider=None))], [ITEM, question], outputs,
                           config)  # fmt: skip
    assert scored.values("pass@1") == {"p": 1.0, "q": None}
