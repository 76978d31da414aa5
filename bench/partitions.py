"""Queries over a recent window touch only recent partitions (issue 16): ``EXPLAIN ANALYZE``.

A scratch database gets ``VIGIL_BENCH_PARTITIONS_TRACES`` (200,000) traces over
``VIGIL_BENCH_PARTITIONS_DAYS`` (182, so 27 weekly partitions and the two made ahead), five
scores each, the review items of ``bench.ui`` (``bench._ui_data``), then ``VACUUM ANALYZE``.
Each store query of the pages and flows that read a recent window runs once for the last 24
hours and once for the last 7 days through :class:`vigil.store.explain.Explaining`, which
records its plans. A row says how many traces and scores partitions the plans scanned,
beside the partitions whose range reaches into the window (what a perfect plan reads; the
two weeks made ahead count, as the query cannot know they are empty). Before 0017 every
such query read one table holding all 182 days.

A quick run: ``VIGIL_BENCH_PARTITIONS_TRACES=20000 python -m bench bench.partitions``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from bench import Row
from bench._db import scratch_database
from bench._ui_data import fill, fill_review
from vigil.db import connect
from vigil.db.types import Conn
from vigil.sampling import SamplingPolicy
from vigil.store import (
    calibration,
    detection,
    explorer,
    partitions,
    sampling,
    slo,
    views,
)
from vigil.store.explain import Explaining, touched

TRACES = int(os.environ.get("VIGIL_BENCH_PARTITIONS_TRACES", "200000"))
DAYS = int(os.environ.get("VIGIL_BENCH_PARTITIONS_DAYS", "182"))
APP = "support-bot"
LOW = (explorer.ScoreRange("groundedness", 0, 0.3),)
EVALUATORS = [("groundedness", "2")]  # a version not scored yet: every trace still needs it

Query = Callable[[Conn, datetime, datetime], Any]


def _slo() -> Any:
    from vigil.slo import SLO

    return SLO.model_validate({"name": "g", "app": APP, "target": 0.9, "window": "7d",
                               "sli": {"evaluator": "groundedness", "threshold": 0.5}})  # fmt: skip


QUERIES: dict[str, Query] = {
    "traces: first page": lambda c, s, e: explorer.search(c, explorer.Filters(start=s), None),
    "traces: groundedness 0-0.3": lambda c, s, e: explorer.search(
        c, explorer.Filters(start=s, scores=LOW), None),
    "overview: traffic (hourly)": lambda c, s, e: views.traffic(c, s, e, "hour"),
    "overview: tokens (hourly)": lambda c, s, e: views.tokens(c, s, e, "hour"),
    "overview: status counts (hourly)": lambda c, s, e: views.status_counts(c, s, e, "hour"),
    "overview: quality (hourly)": lambda c, s, e: views.quality(c, s, e, "hour"),
    "evaluate-window: select_sample": lambda c, s, e: sampling.select_sample(
        c, APP, s, e, SamplingPolicy(rate=0.1), EVALUATORS, max_attempts=3),
    "evaluate-window: window_counts": lambda c, s, e: sampling.window_counts(c, APP, s, e),
    "detection: window_traces": lambda c, s, e: detection.window_traces(
        c, APP, (s, e), (s, s), 5000),
    "detection: window_scores": lambda c, s, e: detection.window_scores(
        c, [r["id"] for r in detection.window_traces(c, APP, (s, e), (s, s), 5000)], s),
    "slo: score SLI": lambda c, s, e: slo.good_and_total(c, _slo(), s, e),
    "evaluators: labelled scores": lambda c, s, e: calibration.labelled_scores(c, s, e),
}  # fmt: skip


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def scanned(conn: Conn, query: Query, start: datetime, end: datetime) -> dict[str, set[str]]:
    """The partitions, by table, that the query's plans scanned."""
    explaining = Explaining(conn)
    query(cast(Conn, explaining), start, end)
    found: dict[str, set[str]] = {}
    for plan in explaining.plans:
        for table, names in touched(plan).items():
            found.setdefault(table, set()).update(names)
    return found


def run() -> list[Row]:
    with scratch_database("vigil_partitions_bench") as url, connect(url, autocommit=True) as conn:
        now = datetime.now(UTC)
        fill(conn, TRACES, now - timedelta(days=DAYS), days=DAYS)
        fill_review(conn)
        conn.execute("VACUUM ANALYZE")
        ranges = partitions.ranges(conn)
        say(f"  {TRACES:,} traces over {DAYS} days: {len(ranges)} partitions of each table")
        rows = []
        for label, window in (("24 h", timedelta(days=1)), ("7 d", timedelta(days=7))):
            start = now - window
            reach = sum(1 for r in ranges if r.hi > start)
            for name, query in QUERIES.items():
                found = scanned(conn, query, start, now)
                for table in ("traces", "scores"):
                    n = len(found.get(table, ()))
                    say(f"  {name}, last {label}: {table} {n} of {len(ranges)} partitions")
                    rows.append(Row("partitions", f"{name}, last {label}",
                                    f"{table} partitions scanned (of {len(ranges)})", n,
                                    "in the window", reach, higher_is_better=False))  # fmt: skip
        return rows


if __name__ == "__main__":
    from bench import table

    print(table(run()))
