"""Scoring a candidate's outputs for the gate: the same evaluators as production, on traces
built from the golden items, with judge noise handled item by item.

A score from a non-deterministic evaluator (an LLM judge) that lies within the noise
margin of a rule's item threshold is judged ``rejudge`` more times; the median of the
judgements counts (with an odd count, the majority verdict), and an item whose verdicts
disagree is flaky.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from evaluators.base import Evaluator
from flows.gate_candidate import Output
from vigil.gate.config import GateConfig
from vigil.gate.stats import majority, pass_at_k
from vigil.golden import GoldenItem
from vigil.models import Score, Trace

CODE_METRIC = "code_tests"
BATCH = 32
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class ItemMetric:
    """One item's result on one metric, over its samples."""

    value: float | None
    status: str  # scored | skipped | error
    explanation: str | None = None
    votes: tuple[float, ...] = ()
    flaky: bool = False


@dataclass
class Scored:
    """Every metric's per-item results and the evaluator versions that made them."""

    metrics: dict[str, dict[str, ItemMetric]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def values(self, metric: str) -> dict[str, float | None]:
        return {key: m.value for key, m in self.metrics.get(metric, {}).items()}


def trace_of(item: GoldenItem, output: Output) -> Trace:
    """The trace an evaluator judges: the item's question, the candidate's answer, its
    retrieved contexts (else the item's), and the item's reference and tests."""
    attributes: dict[str, object] = {}
    if item.reference is not None:
        attributes["reference"] = item.reference
    if item.retrieval is not None:
        attributes["relevant_document_ids"] = item.retrieval.relevant_document_ids
    if item.test is not None:
        attributes.update(test=item.test, entry_point=item.entry_point, prompt=item.input)
    retrievals = [r.model_dump() for r in output.contexts] or [
        {"content": c, "rank": rank} for rank, c in enumerate(item.contexts)
    ]
    return Trace.model_validate({
        "id": f"gate:{item.id[:200]}:{output.sample}", "app": "vigil-gate",
        "start_time": datetime.now(UTC), "latency_ms": output.latency_ms, "input": item.input,
        "output": output.answer, "attributes": attributes, "retrievals": retrievals,
    })  # fmt: skip


def _thresholds(config: GateConfig, metric: str) -> list[float]:
    return sorted({r.item_threshold for r in config.rules if r.metric == metric})


def _value(score: Score) -> float | None:
    if score.status != "scored":
        return None
    return score.value if score.value is not None else score.measure


def _judge(evaluator: Evaluator, traces: Sequence[Trace],
           done: Callable[[int], None]) -> list[Score]:  # fmt: skip
    out: list[Score] = []
    for start in range(0, len(traces), BATCH):
        out += evaluator.evaluate(traces[start : start + BATCH])
        done(len(out))
    return out


def _rejudge(evaluator: Evaluator, traces: list[Trace], scores: list[Score],
             config: GateConfig) -> dict[int, tuple[float, ...]]:  # fmt: skip
    """Indexes of the scores near a threshold, with every judgement of each."""
    thresholds = _thresholds(config, evaluator.name)
    near = [i for i, s in enumerate(scores) if (v := _value(s)) is not None
            and any(config.noise.near(v, t) for t in thresholds)]  # fmt: skip
    if not near:
        return {}
    votes: dict[int, list[float]] = {i: [_value(scores[i]) or 0.0] for i in near}
    for _ in range(config.noise.rejudge):
        again = evaluator.evaluate([traces[i] for i in near])
        for i, score in zip(near, again, strict=True):
            if (v := _value(score)) is not None:
                votes[i].append(v)
    return {i: tuple(v) for i, v in votes.items()}


def score_outputs(evaluators: Sequence[Evaluator], items: Sequence[GoldenItem],
                  outputs: Sequence[Output], config: GateConfig,
                  progress: Progress | None = None) -> Scored:  # fmt: skip
    """Judge every output with every evaluator and fold samples into per-item results."""
    by_key = {item.id: item for item in items}
    answered = [o for o in outputs if o.error is None and o.answer is not None]
    traces = [trace_of(by_key[o.key], o) for o in answered]
    result = Scored()
    for evaluator in evaluators:
        result.versions[evaluator.name] = evaluator.version
        name = evaluator.name

        def done(n: int, name: str = name) -> None:
            if progress:
                progress(f"scoring {name}", n, len(traces))

        scores = _judge(evaluator, traces, done)
        votes = {} if evaluator.deterministic else _rejudge(evaluator, traces, scores, config)
        per_item: dict[str, list[ItemMetric]] = {}
        for i, (output, score) in enumerate(zip(answered, scores, strict=True)):
            metric = _item_metric(score, votes.get(i), config, name)
            per_item.setdefault(output.key, []).append(metric)
        for output in outputs:
            if output.error is not None or output.answer is None:
                # a code answer that never came is a failed test; elsewhere, not judged
                failed = name == CODE_METRIC and by_key[output.key].kind == "code"
                miss = ItemMetric(0.0 if failed else None, "scored" if failed else "error",
                                  f"the candidate failed: {output.error}")  # fmt: skip
                per_item.setdefault(output.key, []).append(miss)
        result.metrics[name] = {key: _fold(per_item.get(key, [])) for key in by_key}
    if CODE_METRIC in result.metrics:
        _pass_at_k(result, config)
    return result


def _item_metric(score: Score, votes: tuple[float, ...] | None, config: GateConfig,
                 metric: str) -> ItemMetric:  # fmt: skip
    value = _value(score)
    if not votes or value is None:
        return ItemMetric(value, score.status, score.explanation)
    flaky = any(majority([v >= t for v in votes])[1] for t in _thresholds(config, metric))
    return ItemMetric(statistics.median(votes), "scored", score.explanation, votes, flaky)


def _fold(samples: list[ItemMetric]) -> ItemMetric:
    """Samples of one item: their mean (for code tests, the pass rate c/n). A sample not
    scored leaves the whole item not scored: averaging the others would overstate it."""
    missing = [s for s in samples if s.value is None]
    if missing or not samples:
        first = missing[0] if missing else ItemMetric(None, "skipped", "no output")
        return ItemMetric(None, first.status, first.explanation)
    if len(samples) == 1:
        return samples[0]
    return ItemMetric(
        statistics.fmean(s.value for s in samples if s.value is not None), "scored",
        f"the mean of {len(samples)} samples",
        tuple(v for s in samples for v in s.votes), any(s.flaky for s in samples),
    )  # fmt: skip


def _pass_at_k(result: Scored, config: GateConfig) -> None:
    """pass@k per item, from each item's samples (the unbiased estimator)."""
    wanted = {r.metric for r in config.rules if r.metric.startswith("pass@")} | {"pass@1"}
    code = result.metrics[CODE_METRIC]
    n = config.samples
    for metric in sorted(wanted):
        k = int(metric.removeprefix("pass@"))
        if k > n:
            continue  # the config check names this; nothing to estimate
        result.versions[metric] = result.versions[CODE_METRIC]
        result.metrics[metric] = {
            key: ItemMetric(None, m.status, m.explanation)
            if m.value is None
            else ItemMetric(pass_at_k(n, round(m.value * n), k), "scored", m.explanation)
            for key, m in code.items()
        }
