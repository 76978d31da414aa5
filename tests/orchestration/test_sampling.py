"""Sampling policies: deterministic by hash, rules that always include, strata, the cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from vigil.models import Score, Trace
from vigil.sampling import SamplingPolicy
from vigil.store import sampling
from vigil.store.scores import ScoreRow, upsert_scores
from vigil.store.traces import insert_traces

DAY = datetime(2026, 3, 2, tzinfo=UTC)
EVALUATORS = [("groundedness", "minilm-2")]


def _traces(n: int, **fields: object) -> list[Trace]:
    return [
        Trace(
            id=f"s-{i}",
            app="shop",
            start_time=DAY + timedelta(seconds=30 * i),
            input="q",
            output="a",
            latency_ms=100.0 + i % 7,
            cost_usd=0.001,
            model="small",
            prompt_version="v1",
            segment={"route": "faq"},
            **fields,  # type: ignore[arg-type]
        )
        for i in range(n)
    ]


def _pick(conn, policy: SamplingPolicy, start=DAY, end=DAY + timedelta(days=1), **kw):  # type: ignore[no-untyped-def]
    picks = sampling.select_sample(
        conn, "shop", start, end, policy, EVALUATORS, max_attempts=3, **kw
    )
    return {p.trace_id: p.reason for p in picks}


def test_the_rate_picks_the_same_traces_in_any_window(conn) -> None:  # type: ignore[no-untyped-def]
    insert_traces(conn, _traces(2000))
    policy = SamplingPolicy(rate=0.2, outlier_quantile=None)
    whole_day = _pick(conn, policy)
    assert 330 <= len(whole_day) <= 470  # binomial(2000, 0.2): mean 400, sd 18
    assert set(whole_day.values()) == {"sampled"}
    assert _pick(conn, policy) == whole_day  # a re-run picks the same
    first_hours = _pick(conn, policy, end=DAY + timedelta(hours=6))
    in_first_hours = {i for i in whole_day if int(i.split("-")[1]) * 30 < 6 * 3600}
    assert set(first_hours) == in_first_hours  # the same traces through a smaller window
    assert set(_pick(conn, SamplingPolicy(rate=0.4, outlier_quantile=None))) > set(whole_day)


def test_rules_take_their_traces_whatever_the_rate(conn) -> None:  # type: ignore[no-untyped-def]
    rows = _traces(200)
    rows[3] = rows[3].model_copy(update={"user_feedback": -1})
    rows[5] = rows[5].model_copy(update={"status": "error"})
    rows[7] = rows[7].model_copy(update={"latency_ms": 9000.0})
    rows[9] = rows[9].model_copy(update={"cost_usd": 0.5})
    for i in (150, 151, 152, 160):
        rows[i] = rows[i].model_copy(update={"prompt_version": "v2"})
    insert_traces(conn, rows)
    policy = SamplingPolicy(rate=0.0, outlier_quantile=0.99, first_per_prompt_version=3)
    assert _pick(conn, policy) == {
        "s-3": "thumbs_down",
        "s-5": "error",
        "s-7": "latency_outlier",
        "s-9": "cost_outlier",
        "s-150": "new_prompt_version",
        "s-151": "new_prompt_version",
        "s-152": "new_prompt_version",
        "s-0": "new_prompt_version",  # v1's first three too: it was new once
        "s-1": "new_prompt_version",
        "s-2": "new_prompt_version",
    }
    off = SamplingPolicy(rate=0.0, include_thumbs_down=False, include_errors=False,
                         outlier_quantile=None)  # fmt: skip
    assert _pick(conn, off) == {}


def test_a_rare_stratum_gets_its_minimum(conn) -> None:  # type: ignore[no-untyped-def]
    rows = _traces(300)
    for i in range(0, 300, 60):  # 5 traces on a rare route
        rows[i] = rows[i].model_copy(update={"segment": {"route": "refunds"}})
    insert_traces(conn, rows)
    policy = SamplingPolicy(rate=0.0, strata=("route",), min_per_stratum=3, outlier_quantile=None)
    picked = _pick(conn, policy)
    refunds = {f"s-{i}" for i in range(0, 300, 60)}
    assert len(set(picked) & refunds) == 3 and len(set(picked) - refunds) == 3
    assert set(picked.values()) == {"stratum_minimum"}


def test_the_cap_takes_rules_first_then_the_lowest_hashes(conn) -> None:  # type: ignore[no-untyped-def]
    rows = _traces(500)
    rows[42] = rows[42].model_copy(update={"user_feedback": -1})
    insert_traces(conn, rows)
    uncapped = _pick(conn, SamplingPolicy(rate=0.5, outlier_quantile=None))
    capped = sampling.select_sample(
        conn, "shop", DAY, DAY + timedelta(days=1),
        SamplingPolicy(rate=0.5, outlier_quantile=None, max_traces_per_run=10),
        EVALUATORS, max_attempts=3,
    )  # fmt: skip
    assert len(capped) == 10
    assert capped[0].trace_id == "s-42" and capped[0].reason == "thumbs_down"
    assert {p.trace_id for p in capped} <= set(uncapped)


def test_scored_traces_are_not_picked_again_but_retryable_errors_are(conn) -> None:  # type: ignore[no-untyped-def]
    rows = _traces(20)
    insert_traces(conn, rows)
    stored = [
        ScoreRow(rows[0].id, *EVALUATORS[0], Score.scored(0.9)),
        ScoreRow(rows[1].id, *EVALUATORS[0], Score.error("boom")),
    ]
    upsert_scores(conn, stored, None)
    picked = _pick(conn, SamplingPolicy(outlier_quantile=None))
    assert "s-0" not in picked and "s-1" in picked and len(picked) == 19
    for _ in range(2):  # the third error is final
        upsert_scores(conn, stored[1:], None)
    assert "s-1" not in _pick(conn, SamplingPolicy(outlier_quantile=None))


def test_a_policy_round_trips_and_bad_keys_are_refused(conn) -> None:  # type: ignore[no-untyped-def]
    policy = SamplingPolicy(rate=0.1, strata=("model", "route"), min_per_stratum=5,
                            max_traces_per_run=500, judge_max_cost_usd=2.5)  # fmt: skip
    sampling.set_policy(conn, "shop", policy, "tester")
    assert sampling.get_policy(conn, "shop") == policy
    assert sampling.get_policy(conn, "other") is None
    with pytest.raises(ValidationError, match="not a segment key"):
        SamplingPolicy(strata=("route'; DROP TABLE traces; --",))
