"""The gate on code items: pass@1 from the sandbox, with code that passes, fails and hangs,
and pass@k from several samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.gate import GateRequest, run_gate
from vigil.db.types import Conn
from vigil.gate.config import GateConfig, Rule
from vigil.golden import from_record
from vigil.settings import load_settings
from vigil.store import datasets

PROBLEMS = [
    {"task_id": "own/double", "entry_point": "double",
     "prompt": 'def double(x: int) -> int:\n    """Twice x."""\n',
     "test": "def check(candidate):\n    assert candidate(2) == 4\n"
             "    assert candidate(-3) == -6\n"},
    {"task_id": "own/last", "entry_point": "last",
     "prompt": 'def last(items: list) -> object:\n    """The last item, None if empty."""\n',
     "test": "def check(candidate):\n    assert candidate([1, 2]) == 2\n"
             "    assert candidate([]) is None\n"},
    {"task_id": "own/vowels", "entry_point": "vowels",
     "prompt": 'def vowels(s: str) -> int:\n    """How many vowels s has."""\n',
     "test": "def check(candidate):\n    assert candidate('banana') == 3\n"
             "    assert candidate('') == 0\n"},
]  # fmt: skip
RIGHT = {"own/double": "    return 2 * x\n",
         "own/last": "    return items[-1] if items else None\n",
         "own/vowels": "    return sum(c in 'aeiou' for c in s.lower())\n"}  # fmt: skip
WRONG = {**RIGHT, "own/last": "    return items[-1]\n",  # fails on []
         "own/vowels": "    while True:\n        pass\n"}  # hangs  # fmt: skip


def _outputs(path: Path, *samples: dict[str, str]) -> str:
    path.write_text("".join(json.dumps({"task_id": k, "completion": v}) + "\n"
                            for sample in samples for k, v in sample.items()))  # fmt: skip
    return str(path)


def test_pass_at_1_with_code_that_passes_fails_and_hangs(conn: Conn, tmp_path: Path) -> None:
    datasets.save_version(conn, "code", [from_record(p) for p in PROBLEMS], by="t", change="t")
    strict = Rule(metric="pass@1", not_below_baseline=True, strict=True)
    config = GateConfig(evaluators=["code_tests"], rules=[strict])
    settings = load_settings()
    right = _outputs(tmp_path / "right.jsonl", RIGHT)
    good = run_gate(conn, settings, GateRequest(dataset="code", candidate=right, config=config))
    assert good.summary.verdict == "pass"
    assert good.record.scores["pass@1"] == {"own/double": 1.0, "own/last": 1.0, "own/vowels": 1.0}

    wrong = _outputs(tmp_path / "wrong.jsonl", WRONG)
    bad = run_gate(conn, settings, GateRequest(dataset="code", candidate=wrong, config=config))
    assert bad.summary.verdict == "fail"
    assert bad.record.scores["pass@1"] == {"own/double": 1.0, "own/last": 0.0, "own/vowels": 0.0}
    (rule,) = [r for r in bad.summary.rules if r.status == "fail"]
    assert rule.metric == "pass@1" and rule.mcnemar is not None and rule.mcnemar.b == 2
    why = {r["item_key"]: r["explanation"] for r in conn.execute(
        "SELECT item_key, explanation FROM gate_scores WHERE run_id = %s AND metric ="
        " 'code_tests'", (bad.run_id,))}  # fmt: skip
    assert why["own/vowels"].startswith("the tests did not finish")
    assert why["own/last"].startswith("the tests failed")


def test_pass_at_k_from_three_samples(conn: Conn, tmp_path: Path) -> None:
    datasets.save_version(conn, "code", [from_record(p) for p in PROBLEMS[:2]], by="t",
                          change="t")  # fmt: skip
    rules = [Rule(metric="pass@1", min=0.0), Rule(metric="pass@3", min=0.9)]
    config = GateConfig(evaluators=["code_tests"], samples=3, rules=rules)
    wrong_last = {"own/double": RIGHT["own/double"], "own/last": "    return items[-1]\n"}
    candidate = _outputs(tmp_path / "s.jsonl", RIGHT, wrong_last, wrong_last)
    run = run_gate(conn, load_settings(), GateRequest(dataset="code", candidate=candidate,
                                                      config=config))  # fmt: skip
    assert run.record.scores["pass@1"] == {"own/double": 1.0, "own/last": pytest.approx(1 / 3)}
    assert run.record.scores["pass@3"] == {"own/double": 1.0, "own/last": 1.0}
    assert run.summary.verdict == "pass"
