"""Queries over a recent window touch only recent partitions: over ten weeks of traces and
scores, each store query of the last 24 hours or 7 days scans no partition that ends before
its window starts (EXPLAIN ANALYZE of the store's own SQL, see vigil/store/explain.py; the
same report at scale is bench/ui)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from vigil.db.types import Conn
from vigil.models import Retrieval, Score, Trace
from vigil.sampling import SamplingPolicy
from vigil.slo import SLO
from vigil.store import (
    calibration,
    detection,
    explorer,
    metrics,
    partitions,
    sampling,
    scores,
    slo,
    traces,
    views,
)
from vigil.store.explain import Explaining, touched

NOW = datetime.now(UTC).replace(microsecond=0)
WEEKS = 10
IDS = [f"p{i:03d}" for i in range(WEEKS * 14)]  # every trace: the time bound must prune
SLO_DEF = SLO.model_validate({"name": "fast", "app": "shop", "target": 0.9, "window": "7d",
                              "sli": {"measure": "latency_ms", "bound": 500}})  # fmt: skip
GROUNDED = SLO.model_validate({"name": "g", "app": "shop", "target": 0.9, "window": "7d",
                               "sli": {"evaluator": "judge", "threshold": 0.5}})  # fmt: skip


@pytest.fixture
def ten_weeks(conn: Conn) -> Conn:
    rows = [
        Trace(id=IDS[i], app="shop", start_time=NOW - timedelta(hours=12 * i), input="q",
              output="a", model="m", prompt_version="v1", segment={"route": "r"},
              latency_ms=100.0 + i, cost_usd=0.01, retrievals=[Retrieval(content="c")])
        for i in range(WEEKS * 14)
    ]  # fmt: skip
    with conn.transaction():
        traces.insert_traces(conn, rows)
    scores.upsert_scores(
        conn, [scores.ScoreRow(t.id, "judge", "1", Score.scored(0.7)) for t in rows], None
    )
    return conn


Query = Callable[[Conn, datetime, datetime], Any]
QUERIES: dict[str, Query] = {
    "explorer.search": lambda c, s, e: explorer.search(c, explorer.Filters(start=s, end=e), None),
    "explorer.search (score filter)": lambda c, s, e: explorer.search(
        c, explorer.Filters(start=s, end=e, scores=(explorer.ScoreRange("judge", 0.5),)), None
    ),
    "views.traffic (hour)": lambda c, s, e: views.traffic(c, s, e, "hour"),
    "views.tokens (hour)": lambda c, s, e: views.tokens(c, s, e, "hour"),
    "views.status_counts (hour)": lambda c, s, e: views.status_counts(c, s, e, "hour"),
    "sampling.window_apps": lambda c, s, e: sampling.window_apps(c, s, e, None),
    "sampling.select_sample": lambda c, s, e: sampling.select_sample(
        c, "shop", s, e, SamplingPolicy(rate=1.0), [("judge", "2")], max_attempts=3
    ),
    "sampling.window_counts": lambda c, s, e: sampling.window_counts(c, "shop", s, e),
    "detection.window_apps": lambda c, s, e: detection.window_apps(c, (s, e)),
    "detection.window_traces": lambda c, s, e: detection.window_traces(
        c, "shop", (s, e), (s, s), 100
    ),
    "detection.window_scores": lambda c, s, e: detection.window_scores(c, IDS, s),
    "detection.trace_inputs": lambda c, s, e: detection.trace_inputs(c, IDS, s),
    "slo.good_and_total (latency)": lambda c, s, e: slo.good_and_total(c, SLO_DEF, s, e),
    "slo.good_and_total (score)": lambda c, s, e: slo.good_and_total(c, GROUNDED, s, e),
    "calibration.labelled_scores": lambda c, s, e: calibration.labelled_scores(c, s, e),
    "metrics.top_segment_values": lambda c, s, e: metrics.top_segment_values(
        c, (e - s).total_seconds(), 5, 5
    ),
}


@pytest.mark.parametrize("window", [timedelta(hours=24), timedelta(days=7)], ids=["24h", "7d"])
@pytest.mark.parametrize("name", list(QUERIES))
def test_a_recent_window_touches_only_recent_partitions(
    ten_weeks: Conn, name: str, window: timedelta
) -> None:
    start, end = NOW - window, NOW + timedelta(seconds=1)
    explaining = Explaining(ten_weeks)
    QUERIES[name](cast(Conn, explaining), start, end)
    assert explaining.plans, f"{name} ran no read"
    ranges = {partitions.partition_name(t, r.lo): r for r in partitions.ranges(ten_weeks)
              for t in partitions.TABLES}  # fmt: skip
    old = sorted(
        p
        for plan in explaining.plans
        for parts in touched(plan).values()
        for p in parts
        if ranges[p].hi <= start
    )
    assert old == [], f"{name} over {window} scanned {old}"
    existing = {n for n, r in ranges.items() if n.startswith("traces_") and r.hi <= start}
    assert len(existing) >= WEEKS - 2  # there were old partitions to skip
