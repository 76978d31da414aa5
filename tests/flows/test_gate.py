"""`vigil gate`'s runner against the real store, evaluators and a fake judge server: real
regressions fail with their rule named, an equal candidate passes despite judge noise,
candidate errors are reported per item."""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evaluators.registry import available
from flows.gate import GateCannotRun, GateRequest, run_gate
from vigil.db.types import Conn
from vigil.gate.config import GateConfig, NoiseConfig, Rule, load_gate_config
from vigil.golden import GoldenItem
from vigil.settings import load_settings
from vigil.store import datasets
from vigil.testing import FakeOpenAIServer
from vigil.testing.fake_openai import judge_reply

FACTS = {i: f"Product {i} can be returned within {10 + i} days of delivery." for i in range(30)}


def _question(i: int) -> str:
    return f"What is the return window for product {i}?"


def _rag_dataset(conn: Conn, n: int = 30) -> None:
    items = [GoldenItem(id=f"p{i}", input=_question(i), contexts=[FACTS[i]],
                        reference=f"{10 + i} days") for i in range(n)]  # fmt: skip
    datasets.save_version(conn, "returns", items, by="test", change="test items")


def _number(question: str) -> int:
    found = re.search(r"product (\d+)", question)
    assert found, question
    return int(found[1])


def grounded(question: str) -> dict[str, Any]:
    i = _number(question)
    return {"answer": FACTS[i], "contexts": [FACTS[i]]}


def inventing(question: str) -> dict[str, Any]:
    """Half the answers invent a policy the context does not hold."""
    i = _number(question)
    if i % 2:
        return {"answer": "Refunds are paid in store credit and shipping is never refunded.",
                "contexts": [FACTS[i]]}  # fmt: skip
    return grounded(question)


def relevant(question: str) -> str:
    """Full answers for even items, partial ones (a middling judge score) for odd ones."""
    i = _number(question)
    return f"The return window for product {i} is {10 + i} days." if i % 2 == 0 else \
        f"Product {i} has a return policy."  # fmt: skip


def evasive(question: str) -> str:
    i = _number(question)
    return relevant(question) if i % 2 == 0 else "Please contact our support team."


def flaky_candidate(question: str) -> str:
    i = _number(question)
    if i == 3:
        raise ConnectionError("model endpoint reset the connection")
    if i == 5:
        time.sleep(5)
    return grounded(question)["answer"]


def _gate(conn: Conn, settings: Any, candidate: str, config: GateConfig,
          baseline: str = "last-passing") -> Any:  # fmt: skip
    request = GateRequest(dataset="returns", candidate=f"{__name__}:{candidate}",
                          baseline=baseline, config=config, by="test")  # fmt: skip
    return run_gate(conn, settings, request)


def test_a_candidate_that_invents_facts_fails_on_groundedness_alone(conn: Conn) -> None:
    _rag_dataset(conn)
    settings = load_settings()
    config = GateConfig(evaluators=["groundedness", "token_f1"],
                        rules=[Rule(metric="groundedness", max_drop=0.02),
                               Rule(metric="token_f1", min=0.0)])  # fmt: skip
    first = _gate(conn, settings, "grounded", config)
    assert first.summary.verdict == "pass" and first.summary.baseline is None
    assert [r.status for r in first.summary.rules] == ["skipped", "pass", "pass"]

    worse = _gate(conn, settings, "inventing", config)
    summary = worse.summary
    assert summary.verdict == "fail"
    assert summary.baseline == f"run #{first.run_id} (last passing)"
    failed = [r.name for r in summary.rules if r.status == "fail"]
    assert failed == ["groundedness must not drop by more than 0.02"]
    assert summary.rules[0].interval is not None and summary.rules[0].interval.high < -0.02
    assert {w.key for w in summary.worst} <= {f"p{i}" for i in range(1, 30, 2)}

    same = _gate(conn, settings, "grounded", config)  # the last passing run is still #1
    assert same.summary.verdict == "pass" and same.summary.rules[0].interval.mean_diff == 0
    stored = conn.execute("SELECT verdict, items, errors, baseline_run_id FROM gate_runs"
                          " ORDER BY id").fetchall()  # fmt: skip
    assert [(r["verdict"], r["baseline_run_id"]) for r in stored] == [
        ("pass", None), ("fail", first.run_id), ("pass", first.run_id)]  # fmt: skip
    n = conn.execute("SELECT count(*) AS n FROM gate_scores WHERE run_id = %s AND metric ="
                     " 'groundedness'", (worse.run_id,)).fetchone()  # fmt: skip
    assert n is not None and n["n"] == 30


def _noisy_judge(seed: int, misread: float = 0.3) -> Callable[[list[dict[str, Any]]], str]:
    """The fake judge, misreading an answer by one point in ``misread`` of its replies: the
    same question judged again is misread independently, but reproducibly for a seed."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def reply(messages: list[dict[str, Any]]) -> str:
        text = judge_reply(messages)
        user = str(messages[-1].get("content", ""))
        with lock:
            seen[user] += 1
            nth = seen[user]
        rnd = random.Random(f"{seed}:{nth}:{user}")
        found = re.search(r"Score: (\d+)", text)
        if found and rnd.random() < misread:
            score = min(3, max(0, int(found[1]) + rnd.choice((-1, 1))))
            text = text.replace(found[0], f"Score: {score}")
        return text

    return reply


@pytest.mark.slow
def test_an_equal_candidate_passes_twenty_noisy_judgements_and_a_worse_one_fails(
    conn: Conn,
) -> None:
    """The same answers against the same baseline under a judge that misreads 30% of its
    replies: 20 runs, 0 failures, although one rule is strict (any item lost fails it). The
    control: without judging again, that rule fails on noise alone."""
    _rag_dataset(conn)
    rules = [Rule(metric="judge_answer_relevance", max_drop=0.02),
             Rule(metric="judge_answer_relevance", name="no answer lost",
                  not_below_baseline=True, strict=True)]  # fmt: skip

    def config(rejudge: int) -> GateConfig:
        return GateConfig(evaluators=["judge_answer_relevance"], rules=rules, concurrency=4,
                          noise=NoiseConfig(margin=0.2, rejudge=rejudge))  # fmt: skip

    reply: dict[str, Callable[[list[dict[str, Any]]], str]] = {"now": _noisy_judge(0)}
    with FakeOpenAIServer(reply=lambda m: reply["now"](m)) as server:
        settings = load_settings(judge_provider="openai_compatible", judge_model="fake-judge",
                                 judge_base_url=server.base_url)  # fmt: skip
        baseline = _gate(conn, settings, "relevant", config(2), baseline="none")
        assert baseline.summary.verdict == "pass"
        failures, spared = [], 0
        for seed in range(1, 21):
            reply["now"] = _noisy_judge(seed)
            run = _gate(conn, settings, "relevant", config(2), baseline=str(baseline.run_id))
            if run.summary.verdict != "pass":
                failures.append((seed, [r.message for r in run.summary.rules]))
            spared += any(r.only_flaky for r in run.summary.rules)
        assert failures == []
        assert spared > 0, "the judge was never noisy enough to flag an item"
        control = []
        for seed in range(1, 5):
            reply["now"] = _noisy_judge(seed)
            once = _gate(conn, settings, "relevant", config(0), baseline=str(baseline.run_id))
            control.append(once.summary.verdict)
        assert "fail" in control, "the control shows the noise alone would fail the strict rule"
        reply["now"] = _noisy_judge(99)
        worse = _gate(conn, settings, "evasive", config(2), baseline=str(baseline.run_id))
    assert worse.summary.verdict == "fail"
    assert [r.name for r in worse.summary.rules if r.status == "fail"] == [
        "judge_answer_relevance must not drop by more than 0.02", "no answer lost"]  # fmt: skip


def test_candidate_errors_and_timeouts_are_reported_per_item(conn: Conn) -> None:
    _rag_dataset(conn, n=8)
    config = GateConfig(evaluators=["token_f1"], rules=[Rule(metric="token_f1", min=0.0)],
                        timeout_s=1.0, concurrency=8)  # fmt: skip
    started = time.monotonic()
    run = _gate(conn, load_settings(), "flaky_candidate", config)
    assert time.monotonic() - started < 4.5  # the hanging call was abandoned at its timeout
    errors = dict(run.summary.errors)
    assert errors == {"p3": "ConnectionError: model endpoint reset the connection",
                      "p5": "timed out after 1 s"}  # fmt: skip
    assert run.summary.verdict == "fail"
    assert [r.metric for r in run.summary.rules if r.status == "fail"] == ["errors"]
    stored = conn.execute("SELECT item_key, error FROM gate_outputs WHERE error IS NOT NULL"
                          " ORDER BY item_key").fetchall()  # fmt: skip
    assert [r["item_key"] for r in stored] == ["p3", "p5"]
    scored = conn.execute("SELECT count(*) AS n FROM gate_scores WHERE value IS NOT NULL"
                          ).fetchone()  # fmt: skip
    assert scored is not None and scored["n"] == 6


def test_what_cannot_run_says_why(conn: Conn) -> None:
    settings = load_settings()
    config = GateConfig(evaluators=["token_f1"], rules=[Rule(metric="token_f1", min=0.0)])
    with pytest.raises(GateCannotRun, match="no dataset named 'returns'"):
        _gate(conn, settings, "grounded", config)
    _rag_dataset(conn, n=3)
    with pytest.raises(GateCannotRun, match="cannot import no_such_module"):
        run_gate(conn, settings, GateRequest(dataset="returns", candidate="no_such_module:f",
                                             config=config))  # fmt: skip
    with pytest.raises(GateCannotRun, match="not a run id, 'last-passing', 'none'"):
        _gate(conn, settings, "grounded", config, baseline="missing.json")
    first = _gate(conn, settings, "grounded", config)
    conn.execute("UPDATE gate_scores SET version = 'v0' WHERE run_id = %s", (first.run_id,))
    with pytest.raises(GateCannotRun, match="token_f1: baseline v0, this run 1"):
        _gate(conn, settings, "grounded", config)


def test_the_example_config_names_installed_evaluators_at_their_versions() -> None:
    config = load_gate_config(Path(__file__).resolve().parents[2] / "infra/gate.example.yaml")
    known = available()
    for name, version in config.pinned.items():
        assert name in known, f"{name} is not an installed evaluator"
        if version is not None:
            assert known[name].version == version


def test_a_judge_rule_without_a_judge_cannot_run_and_a_failing_judge_fails(conn: Conn) -> None:
    _rag_dataset(conn, n=6)
    config = GateConfig(evaluators=["judge_answer_relevance"],
                        rules=[Rule(metric="judge_answer_relevance", min=0.5)])  # fmt: skip
    with pytest.raises(GateCannotRun, match=r"no item was scored on judge_answer_relevance "
                       r"\(no LLM judge configured"):  # fmt: skip
        _gate(conn, load_settings(), "relevant", config)
    with FakeOpenAIServer(fail_first=10_000, fail_status=500) as down:  # down for good
        settings = load_settings(judge_provider="openai_compatible", judge_model="fake-judge",
                                 judge_base_url=down.base_url, judge_max_retries=0)  # fmt: skip
        with pytest.raises(GateCannotRun, match="fake error 500"):
            _gate(conn, settings, "relevant", config)
    with FakeOpenAIServer(fail_first=2, fail_status=500) as flaky:  # two replies fail
        settings = load_settings(judge_provider="openai_compatible", judge_model="fake-judge",
                                 judge_base_url=flaky.base_url, judge_max_retries=0)  # fmt: skip
        run = _gate(conn, settings, "relevant", config)
    assert run.summary.verdict == "fail"
    assert [r.metric for r in run.summary.rules if r.status == "fail"] == ["errors"]
    assert len(run.summary.errors) == 2
    assert all(m.startswith("judge_answer_relevance: ") for _, m in run.summary.errors)
