"""How fast the UI's pages read at scale (issue 14): every query's p95 against 300 ms.

A scratch database (:func:`bench._db.scratch_database`) gets ``VIGIL_BENCH_UI_TRACES``
(1,000,000) traces over 30 days in four apps, five scores each (four evaluators with a
value, one with a measure), through ``COPY`` (``bench._ui_data``); then 40 regressions,
3,000 labelled audit items and 500 pending ones, ``VACUUM ANALYZE``, and the first refresh
of 0012's rollups (as after a backfill of that size). Each page's store queries then run
with the filters a user picks, ``VIGIL_BENCH_UI_REPS`` (20) times after one run not
counted: p50 and p95 per query beside the 300 ms target. The Overview's queries from
before 0012 (``scores.daily_means``, the all-time status counts and headline) run too, as
the "before" rows.

A quick run: ``VIGIL_BENCH_UI_TRACES=100000 VIGIL_BENCH_UI_REPS=5 python -m bench bench.ui``.
``VIGIL_BENCH_UI_DAYS=365`` spreads the traces over a year (53 weekly partitions);
``VIGIL_BENCH_UI_ONLY="options|markers"`` runs only the queries whose names hold a part.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench import Row
from bench._db import scratch_database
from bench._ui_data import fill, fill_review
from vigil.db import connect
from vigil.db.types import Conn
from vigil.store import calibration, explorer, regressions, review, rollups, scores, views

TRACES = int(os.environ.get("VIGIL_BENCH_UI_TRACES", "1000000"))
DAYS = int(os.environ.get("VIGIL_BENCH_UI_DAYS", "30"))  # 365: a year of weekly partitions
REPS = int(os.environ.get("VIGIL_BENCH_UI_REPS", "20"))
TARGET_MS = 300.0
ONE = ["support-bot"]  # the largest app: 40% of the traces
DEEP = 20  # the explorer's deep pages: this many pages of 50 in


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _claim(conn: Conn) -> object:
    """The review queue's "claim next", given back at once (not timed) for the next run."""
    item = review.claim_next(conn, "bench", None)
    if item is not None:
        review.release(conn, int(item["id"]), "bench")
    return item


def deep(conn: Conn, filters: explorer.Filters, pages: int = DEEP) -> explorer.Cursor | None:
    """The ``after=`` cursor ``pages`` pages into the explorer's list (paged there, untimed)."""
    cursor = None
    for _ in range(pages):
        page = explorer.search(conn, filters, None, after=cursor)
        if not page.has_older:
            break
        cursor = page.last
    return cursor


def explorer_queries(conn: Conn, now: datetime) -> dict[str, Callable[[Conn], object]]:
    """The trace explorer beyond its first page: ``DEEP`` pages in by ``after=`` cursors,
    the score-range, label and status filters, its filter options and one trace's detail."""
    start = now - timedelta(days=30)
    d30 = explorer.Filters(start=start)
    one = explorer.Filters(start=start, app=ONE[0], segment={"route": "billing"})
    low = explorer.Filters(start=start, scores=(explorer.ScoreRange("groundedness", 0, 0.3),))
    narrow = explorer.Filters(start=start, scores=(
        explorer.ScoreRange("groundedness", 0, 0.3),
        explorer.ScoreRange("context_relevance", 0, 0.3)))  # fmt: skip
    labelled = explorer.Filters(start=start, label="hallucinated")
    errors = explorer.Filters(start=start, status="error")
    mixed = explorer.Filters(start=start, status="error", label="hallucinated",
                             scores=(explorer.ScoreRange("groundedness", 0, 0.5),))  # fmt: skip
    cursors = {name: deep(conn, f) for name, f in (("d30", d30), ("one", one), ("low", low),
                                                   ("errors", errors))}  # fmt: skip
    mid = (now - timedelta(days=15), "~")  # the middle of the 30 days, as deep as paging goes
    trace_id = f"b{TRACES // 2:08d}"

    def page(filters: explorer.Filters, after: explorer.Cursor | None) -> Callable[[Conn], object]:
        return lambda c: explorer.search(c, filters, None, after=after)

    return {
        f"traces: page {DEEP + 1}, all apps, 30 d": page(d30, cursors["d30"]),
        "traces: page at day 15 of 30, all apps": page(d30, mid),
        f"traces: page {DEEP + 1}, one app, route=billing, 30 d": page(one, cursors["one"]),
        "traces: groundedness 0-0.3, 30 d": page(low, None),
        f"traces: page {DEEP + 1}, groundedness 0-0.3, 30 d": page(low, cursors["low"]),
        "traces: two narrow score ranges, 30 d": page(narrow, None),
        "traces: label=hallucinated, 30 d": page(labelled, None),
        "traces: status=error, 30 d": page(errors, None),
        f"traces: page {DEEP + 1}, status=error, 30 d": page(errors, cursors["errors"]),
        "traces: status + label + score range, 30 d": page(mixed, None),
        "traces: filter options, all apps": lambda c: explorer.options(c, None),
        "traces: filter options, one app": lambda c: explorer.options(c, ONE),
        "traces: trace detail": lambda c: explorer.trace_detail(c, trace_id, None),
    }


def review_queries(conn: Conn) -> dict[str, Callable[[Conn], object]]:
    """The review queue's list, filters and one item, and the regressions list."""
    first = conn.execute(
        "SELECT min(id) AS id FROM review_items WHERE status = 'pending'"
    ).fetchone()
    assert first is not None
    item_id = int(first["id"])
    audit = review.Filters(audit=True)
    return {
        "review: pending items": lambda c: review.list_items(c),
        "review: pending items, one app": lambda c: review.list_items(c, apps=ONE),
        "review: labelled items": lambda c: review.list_items(c, status="labeled"),
        "review: all items, audit sample": lambda c: review.list_items(
            c, status=None, filters=audit),
        "review: filter choices": lambda c: review.filter_choices(c, None),
        "review: one item": lambda c: review.item(c, item_id, None),
        "regressions: list": lambda c: regressions.list_regressions(c),
        "regressions: open, one app": lambda c: regressions.list_regressions(
            c, status="open", apps=ONE),
    }  # fmt: skip


def queries(now: datetime, conn: Conn) -> dict[str, Callable[[Conn], object]]:
    """Each page's reads, with the filters a user picks (cursors and ids read from ``conn``)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    d30, d7 = (day - timedelta(days=29), now), (day - timedelta(days=6), now)
    h24 = (now.replace(minute=0, second=0, microsecond=0) - timedelta(days=1), now)
    billing = explorer.Filters(start=h24[0], segment={"route": "billing"})
    return {
        "before 0012: scores.daily_means 30 d, one app": lambda c: scores.daily_means(
            c, *d30, ONE[0]),
        "before 0012: scores.daily_means 30 d, all apps": lambda c: scores.daily_means(c, *d30),
        "before 0012: scores.status_counts (all time)": scores.status_counts,
        "overview: rollup refresh (nothing new)": rollups.refresh,
        "overview: app list": views.app_names,
        "overview: headline, all apps": lambda c: views.headline(c, None),
        "overview: headline, one app": lambda c: views.headline(c, ONE),
        "overview: status counts 30 d, all apps": lambda c: views.status_counts(c, *d30, "day"),
        "overview: status counts 30 d, one app": lambda c: views.status_counts(c, *d30, "day", ONE),
        "overview: status counts 24 h, all apps": lambda c: views.status_counts(c, *h24, "hour"),
        "overview: quality 30 d, all apps": lambda c: views.quality(c, *d30, "day"),
        "overview: quality 30 d, one app": lambda c: views.quality(c, *d30, "day", ONE),
        "overview: quality 7 d, one app": lambda c: views.quality(c, *d7, "day", ONE),
        "overview: quality 24 h, all apps": lambda c: views.quality(c, *h24, "hour"),
        "overview: quality 24 h, one app": lambda c: views.quality(c, *h24, "hour", ONE),
        "overview: cost + p95 30 d, all apps": lambda c: views.traffic(c, *d30, "day"),
        "overview: cost + p95 30 d, one app": lambda c: views.traffic(c, *d30, "day", ONE),
        "overview: cost + p95 24 h, all apps": lambda c: views.traffic(c, *h24, "hour"),
        "overview: tokens 30 d, all apps": lambda c: views.tokens(c, *d30, "day"),
        "overview: tokens 24 h, all apps": lambda c: views.tokens(c, *h24, "hour"),
        "overview: first model/prompt markers": lambda c: views.first_seen(c, None),
        "overview: open regressions": lambda c: views.open_regressions(c, None),
        "evaluators: labelled scores 12 w, all apps": lambda c: calibration.labelled_scores(
            c, now - timedelta(weeks=12), now),
        "evaluators: audit sample 12 w, one app": lambda c: calibration.labelled_scores(
            c, now - timedelta(weeks=12), now, ONE, audit_only=True),
        "traces: first page, all apps, 24 h": lambda c: explorer.search(
            c, explorer.Filters(start=h24[0]), None),
        "traces: first page, one app, route=billing": lambda c: explorer.search(
            c, explorer.Filters(start=h24[0], app=ONE[0], segment={"route": "billing"}), None),
        "traces: first page, all apps, route=billing": lambda c: explorer.search(c, billing, None),
        **explorer_queries(conn, now),
        "review: claim next": _claim,
        **review_queries(conn),
    }  # fmt: skip


def timings(conn: Conn, query: Callable[[Conn], object]) -> list[float]:
    query(conn)  # warms the cache, not counted
    out = []
    for _ in range(REPS):
        started = time.perf_counter()
        query(conn)
        out.append((time.perf_counter() - started) * 1000)
    return out


def p95(values: list[float]) -> float:
    return (
        statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]
    )


def run() -> list[Row]:
    with scratch_database("vigil_ui_bench") as url, connect(url, autocommit=True) as conn:
        now = datetime.now(UTC)
        started = time.perf_counter()
        fill(conn, TRACES, now - timedelta(days=DAYS), DAYS)
        fill_review(conn)
        took = time.perf_counter() - started
        say(f"  {TRACES:,} traces, {5 * TRACES:,} scores by COPY in {took:.0f} s")
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        say(f"  VACUUM ANALYZE in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        rollups.refresh(conn)
        say(f"  first rollup refresh (all of it new) in {time.perf_counter() - started:.1f} s")
        rows = []
        case = f"{TRACES:,} traces over {DAYS} days, {REPS} runs"
        only = os.environ.get("VIGIL_BENCH_UI_ONLY", "").split("|")
        for name, query in queries(now, conn).items():
            if not any(part in name for part in only):
                continue
            ms = timings(conn, query)
            say(f"  {name}: p50 {statistics.median(ms):.1f} ms, p95 {p95(ms):.1f} ms")
            for metric, value in (("p50 ms", statistics.median(ms)), ("p95 ms", p95(ms))):
                rows.append(Row("ui", f"{name} ({case})", metric, value, "target",
                                TARGET_MS, higher_is_better=False))  # fmt: skip
        return rows


if __name__ == "__main__":
    from bench import table

    print(table(run()))
