"""The detector on rows with known incidents, without a database."""

from __future__ import annotations

import random

import pytest

from tests.detection.world import Row, traffic
from vigil.detection import OTHER, Limits, app_window, detect
from vigil.errors import VigilError

LIMITS = Limits()


def findings(rows: tuple[list[Row], list[Row]]):  # type: ignore[no-untyped-def]
    traces, scores = rows
    return detect([app_window("shop", traces, scores, LIMITS.max_segment_values)], LIMITS)


@pytest.mark.parametrize("seed", range(8))
def test_clean_traffic_raises_nothing(seed: int) -> None:
    assert findings(traffic(seed)) == []


def hallucinating_prompt(row: Row, rng: random.Random) -> None:
    if row["segment"]["route"] == "technical":
        row["prompt_version"] = "v4"
        row["quality"] = min(1.0, max(0.0, rng.gauss(0.35, 0.15)))


def test_a_hallucinating_prompt_on_one_route_is_named_with_its_route() -> None:
    rows = traffic(1, incident=hallucinating_prompt)
    found = {(f.metric.name, f.evaluator): f for f in findings(rows)}
    score = found[("score", "groundedness")]
    top = score.attribution[0]
    assert top.segment == {"route": "technical", "prompt_version": "v4"}
    assert top.new == {"prompt_version": True, "route": False}
    assert top.explains > 0.8
    assert score.test.q <= LIMITS.fdr
    assert ("below_threshold_rate", "groundedness") in found
    assert {m for m, _ in found} <= {"score", "below_threshold_rate"}
    assert len(score.review) == 20
    v4 = {r["id"] for r in rows[0] if r["prompt_version"] == "v4"}
    assert set(score.review) <= v4


def verbose_model(row: Row, rng: random.Random) -> None:
    if row["model"] == "model-b":
        row["tokens_out"] = int(rng.gauss(600, 80))


def test_verbose_outputs_raise_output_tokens_and_cost_and_say_outputs_grew() -> None:
    found = {f.metric.name: f for f in findings(traffic(2, incident=verbose_model))}
    assert set(found) == {"output_tokens", "cost_per_request"}
    assert found["output_tokens"].attribution[0].segment == {"model": "model-b"}
    growth = found["cost_per_request"].evidence["growth"]
    assert growth["grew"] == "outputs"


def slow_model(row: Row, rng: random.Random) -> None:
    if row["model"] == "model-a":
        row["latency_ms"] *= 2.5


def test_a_latency_rise_on_one_model_is_found_by_its_p95() -> None:
    found = {f.metric.name: f for f in findings(traffic(3, incident=slow_model))}
    assert set(found) == {"latency_p95"}
    assert found["latency_p95"].attribution[0].segment == {"model": "model-a"}


def longer_context(row: Row, rng: random.Random) -> None:
    if row["segment"]["route"] == "billing":
        row["chunks"] = 10
        row["tokens_in"] = int(rng.gauss(2200, 200))


def test_longer_retrieved_context_raises_input_tokens_and_says_inputs_grew() -> None:
    found = {f.metric.name: f for f in findings(traffic(6, incident=longer_context))}
    assert set(found) == {"input_tokens", "cost_per_request"}
    assert found["input_tokens"].attribution[0].segment == {"route": "billing"}
    growth = found["input_tokens"].evidence["growth"]
    assert growth["grew"] == "inputs"
    assert growth["sizes"]["chunks"] == [4.0, 10.0]  # within the named segment


def errors_on_one_route(row: Row, rng: random.Random) -> None:
    if row["segment"]["route"] == "account" and rng.random() < 0.3:
        row["status"] = "error"


def test_an_error_rate_rise_is_found_with_its_route() -> None:
    found = {f.metric.name: f for f in findings(traffic(7, incident=errors_on_one_route))}
    assert set(found) == {"error_rate"}
    assert found["error_rate"].attribution[0].segment == {"route": "account"}


def with_tenants(rows: tuple[list[Row], list[Row]]) -> tuple[list[Row], list[Row]]:
    for i, row in enumerate(rows[0]):
        row["segment"]["tenant"] = "acme" if i % 10 == 0 else f"tenant-{i % 7}"
    return rows


def test_a_drop_confined_to_a_small_segment_is_that_segments_regression() -> None:
    traces, scores = with_tenants(traffic(4))
    by_id = {t["id"]: t for t in traces}
    rng = random.Random(4)
    for s in scores:  # the incident, applied after the tenants were assigned
        trace = by_id[s["trace_id"]]
        if trace["in_window"] and trace["segment"]["tenant"] == "acme":
            s["value"] = min(1.0, max(0.0, rng.gauss(0.4, 0.15)))
    found = {(f.metric.name, f.evaluator): f for f in findings((traces, scores))}
    score = found[("score", "groundedness")]
    assert score.segment == {"tenant": "acme"}  # the app's mean moved less than the floor
    assert score.test.against == "its own baseline"
    assert score.attribution[0].segment == {"tenant": "acme"}


def test_a_key_over_the_cardinality_cap_folds_into_other() -> None:
    traces, scores = traffic(5)
    for i, row in enumerate(traces):
        row["segment"]["user_group"] = f"g{i % 45}"
    aw = app_window("shop", traces, scores, max_values=20)
    values = set(aw.dims["user_group"])
    assert len(values) == 21 and OTHER in values
    assert set(aw.dims["route"]) == {"billing", "technical", "account", "shipping"}


def test_a_floor_for_an_unknown_metric_is_refused_by_name() -> None:
    with pytest.raises(VigilError, match=r"unknown metric.*latency_p99.*latency_p95"):
        Limits(floors=(("latency_p99", 0.3),))


def naturally_lower_route(row: Row, rng: random.Random) -> None:
    if row["segment"]["route"] == "technical":
        row["quality"] = min(1.0, max(0.0, rng.gauss(0.55, 0.15)))


def test_a_short_baseline_makes_no_segment_new() -> None:
    """An app's first days: each route has some history, under the minimum. A route that is
    always lower is not 'new', and nothing is raised."""
    rows = traffic(8, baseline=120, window=300, incident=naturally_lower_route)
    for row in rows[0]:  # lower in the baseline too
        if not row["in_window"] and row["segment"]["route"] == "technical":
            row["lowered"] = True
    scores = {s["trace_id"]: s for s in rows[1]}
    rng = random.Random(8)
    for row in rows[0]:
        if row.pop("lowered", False):
            scores[row["id"]]["value"] = min(1.0, max(0.0, rng.gauss(0.55, 0.15)))
    assert findings(rows) == []


def test_a_degraded_retrieval_index_drops_context_relevance_alone() -> None:
    """The index behind the 'shipping' route's documents degrades: context relevance, a
    second evaluator, falls there; groundedness of the same traces is not pooled with it."""
    traces, scores = traffic(9)
    rng = random.Random(9)
    for t in traces:
        good = rng.gauss(0.7, 0.1)
        if t["in_window"] and t["segment"]["route"] == "shipping":
            good = rng.gauss(0.3, 0.1)
        value = min(1.0, max(0.0, good))
        scores.append({"trace_id": t["id"], "evaluator": "context_relevance",
                       "evaluator_version": "minilm-1", "value": value})  # fmt: skip
    found = {(f.metric.name, f.evaluator): f for f in findings((traces, scores))}
    assert {e for _, e in found} == {"context_relevance"}
    assert found[("score", "context_relevance")].attribution[0].segment == {"route": "shipping"}


def test_a_fast_model_slowed_down_is_named_though_it_stays_under_the_apps_p95() -> None:
    traces, scores = traffic(10)
    rng = random.Random(10)
    for row in traces:
        if row["model"] == "model-b":  # the fast one, always
            row["latency_ms"] = rng.lognormvariate(6.0, 0.3) * (2.0 if row["in_window"] else 1.0)
    found = {f.metric.name: f for f in findings((traces, scores))}
    latency = found["latency_p95"]
    assert latency.segment == {"model": "model-b"}
    assert latency.attribution[0].segment == {"model": "model-b"}


def test_a_p95_needs_five_baseline_traces_expected_beyond_it() -> None:
    from vigil.detection.metrics import LATENCY_P95, SCORE

    assert LIMITS.baseline_needed(LATENCY_P95) == 100  # 5 expected beyond the p95
    assert LIMITS.baseline_needed(SCORE) == LIMITS.min_baseline_n
    assert "latency_p95" not in {f.metric.name for f in findings(traffic(3, baseline=90,
                                                                          incident=slow_model))}
    short = {f.metric.name for f in findings(traffic(3, baseline=200, incident=slow_model))}
    assert "latency_p95" in short  # Mood's test allows for a short baseline's noisy p95


@pytest.mark.parametrize("seed", range(20, 60))
def test_short_clean_baselines_raise_no_p95_alarm(seed: int) -> None:
    """The first days of an app: a few hundred baseline traces, the same latency."""
    found = findings(traffic(seed, baseline=150, window=150))
    assert "latency_p95" not in {f.metric.name for f in found}
