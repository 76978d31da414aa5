"""Retention drops whole weeks (a database of its own: it drops partitions): traces at 21
days, scores at 35, over ten weeks of data. What goes, what stays, and the numbers that
must not change: the daily rollups, the per-segment history (rolled up before the drop),
the labelled review items."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flows.pruning import run_retention
from tests.db.helpers import database_at
from tests.store.test_rollups import rolled
from vigil.db import connect, migrate
from vigil.db.migrate import available
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.models import Retrieval, Score, Span, Trace
from vigil.retention import Needs, Policy
from vigil.store import (
    claims,
    explorer,
    history,
    partitions,
    review,
    rollups,
    scores,
    traces,
    views,
)
from vigil.store import retention as store
from vigil.store.sampling import Pick

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
FIRST = NOW - timedelta(days=70)
POLICY = Policy(traces_days=21, scores_days=35)


@pytest.fixture
def ten_weeks(admin_url: str) -> Iterator[Conn]:
    """A database of its own with ten weeks of traces, scores, claims and review items."""
    with database_at(admin_url, "vigil_retention", available()[-1].name) as conn:
        migrate(conn)
        populate(conn)
        assert rollups.refresh(conn)
        yield conn


def populate(conn: Conn) -> None:
    rows = []
    for i in range(70 * 4):  # every 6 hours
        at = FIRST + timedelta(hours=6 * i)
        rows.append(Trace(
            id=f"t{i:03d}", app="shop" if i % 3 else "bank", start_time=at, input=f"q{i}",
            output=f"a{i}", model=f"m{i % 2}", prompt_version=f"v{i % 3}",
            segment={"route": f"r{i % 4}"}, latency_ms=100.0 + i, cost_usd=0.001 * i,
            retrievals=[Retrieval(content=f"chunk {i}")],
            spans=[Span(span_id="root", name="root", kind="chain", start_time=at)],
        ))  # fmt: skip
    with conn.transaction():
        assert traces.insert_traces(conn, rows).inserted == len(rows)
    marks: list[scores.ScoreRow] = []
    for i, t in enumerate(rows):
        status = ("error", "skipped", "scored", "scored", "scored")[i % 5]
        result = {"error": Score.error("timeout"), "skipped": Score.skipped("no context"),
                  "scored": Score.scored((i * 37 % 100) / 100)}[status]  # fmt: skip
        marks.append(scores.ScoreRow(t.id, "judge", "1", result))
        marks.append(scores.ScoreRow(t.id, "cost", "1", Score.measured(0.5 * i, "usd")))
    scores.upsert_scores(conn, marks, None)
    claims.record(conn, [Pick(t.id, "sampled") for t in rows[::7]], None)
    review.enqueue_audit(conn, FIRST.date() + timedelta(days=2), 3)
    items = conn.execute("SELECT id FROM review_items ORDER BY id").fetchall()
    assert len(items) == 3
    first = items[0]["id"]
    review.label(conn, first, reviewer="ana", label="correct", seen_label=None)


def segment_aggregate(conn: Conn) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """What score_segment_daily should hold, computed here from the raw rows."""
    raw = conn.execute(
        "SELECT s.app, (s.trace_start AT TIME ZONE 'UTC')::date AS day, s.evaluator,"
        " s.evaluator_version, s.status, s.value, s.measure, t.model, t.prompt_version,"
        " t.segment FROM scores s JOIN traces t ON t.id = s.trace_id"
    ).fetchall()
    acc: dict[tuple[Any, ...], list[Any]] = defaultdict(
        lambda: [0, 0, 0, 0, 0.0, 0.0, [0] * 20, 0, 0.0]
    )
    for r in raw:
        keys = [("", ""), ("model", r["model"]), ("prompt_version", r["prompt_version"]),
                *r["segment"].items()]  # fmt: skip
        for key, value in keys:
            a = acc[(r["app"], r["day"], r["evaluator"], r["evaluator_version"], key, value)]
            a[("scored", "skipped", "error").index(r["status"])] += 1
            if r["value"] is not None:
                a[3] += 1
                a[4] += r["value"]
                a[5] += r["value"] ** 2
                a[6][min(int(r["value"] * 20 + 1e-9), 19)] += 1
            if r["measure"] is not None:
                a[7] += 1
                a[8] += r["measure"]
    return {k: (*v[:4], round(v[4], 9), round(v[5], 9), v[6], v[7], round(v[8], 9))
            for k, v in acc.items()}  # fmt: skip


def stored_segments(conn: Conn) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = conn.execute("SELECT * FROM score_segment_daily").fetchall()
    return {
        (r["app"], r["day"], r["evaluator"], r["evaluator_version"], r["seg_key"],
         r["seg_value"]): (r["scored"], r["skipped"], r["errors"], r["valued"],
                           round(r["total"], 9), round(r["total_sq"], 9), list(r["hist"]),
                           r["measured"], round(r["measure_total"], 9))
        for r in rows
    }  # fmt: skip


def exists(conn: Conn, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS e", (name,)).fetchone()
    return bool(row and row["e"])


def histories(conn: Conn) -> list[list[dict[str, Any]]]:
    return [
        history.score_history(conn, app, "judge", "1", seg, FIRST, NOW + timedelta(days=1))
        for app in ("shop", "bank")
        for seg in (history.WHOLE_APP, ("route", "r1"), ("model", "m0"))
    ]


def same_history(a: list[list[dict[str, Any]]], b: list[list[dict[str, Any]]]) -> bool:
    def close(x: Any, y: Any) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
        return bool(x == y)

    return all(
        len(p) == len(q) and all(close(r[k], s[k]) for r, s in zip(p, q, strict=True) for k in r)
        for p, q in zip(a, b, strict=True)
    )


def overview(conn: Conn) -> dict[str, Any]:
    """What the Overview and the explorer's filters read over all ten weeks."""
    start, end = FIRST - timedelta(days=1), NOW + timedelta(days=1)
    return {
        "apps": views.app_names(conn),
        "counts": views.status_counts(conn, start, end, "day"),
        "firsts": sorted((f["kind"], f["app"], f["value"], f["first_seen"])
                         for f in views.first_seen(conn)),
        "options": explorer.options(conn, None),
    }  # fmt: skip


def test_retention_drops_old_weeks_and_keeps_what_must_outlive_them(ten_weeks: Conn) -> None:
    conn = ten_weeks
    expected = segment_aggregate(conn)
    overview_before = overview(conn)
    assert overview_before["counts"]["error"] == 56 and len(overview_before["firsts"]) == 7
    rollups_before = rolled(conn)
    history_before = histories(conn)
    labelled = conn.execute(
        "SELECT i.id, count(e.id) AS events FROM review_items i"
        " JOIN review_events e ON e.item_id = i.id WHERE i.status = 'labeled' GROUP BY i.id"
    ).fetchall()
    assert len(labelled) == 1

    store.set_policy(conn, POLICY, "ops")
    outcome = run_retention(conn, NOW)
    assert outcome.traces and outcome.scores and len(outcome.traces) > len(outcome.scores)
    assert all(r.hi <= NOW - timedelta(days=21) for r in outcome.traces)
    assert all(r.hi <= NOW - timedelta(days=35) for r in outcome.scores)

    kept = partitions.kept_from(conn)
    assert kept["traces"] == outcome.traces[-1].hi and kept["scores"] == outcome.scores[-1].hi
    for r in partitions.ranges(conn):
        gone = r.hi <= kept["traces"]
        assert all(exists(conn, r.name(t)) != gone for t in partitions.TRACE_TABLES), r
        assert exists(conn, r.name("scores")) != (r.hi <= kept["scores"]), r
    # Nothing of a dropped trace is left but its scores (kept longer) and labelled items.
    for table, key in (("trace_ids", "part_time"), ("traces", "part_time"),
                       ("spans", "part_time"), ("retrievals", "part_time")):  # fmt: skip
        old = conn.execute(
            f"SELECT count(*) AS n FROM {table} WHERE {key} < %s", (kept["traces"],)
        ).fetchone()
        assert old["n"] == 0, table
    orphans = conn.execute(
        "SELECT count(*) AS n FROM eval_claims c WHERE NOT EXISTS"
        " (SELECT 1 FROM trace_ids k WHERE k.id = c.trace_id)"
    ).fetchone()
    assert orphans["n"] == 0
    items = conn.execute("SELECT id, status, app FROM review_items").fetchall()
    assert [(i["id"], i["status"]) for i in items] == [(labelled[0]["id"], "labeled")]
    events = conn.execute(
        "SELECT count(*) AS n FROM review_events WHERE item_id = %s", (labelled[0]["id"],)
    ).fetchone()
    assert events["n"] == labelled[0]["events"]
    assert review.list_items(conn, status="labeled")[0]["input"] is None  # its trace is gone
    assert (
        conn.execute(
            "SELECT count(*) AS n FROM scores WHERE trace_start < %s", (kept["scores"],)
        ).fetchone()["n"]
        == 0
    )

    # The week's segments were rolled up before they went, exactly; the rollups are unchanged.
    split = kept["traces"].date()
    assert stored_segments(conn) == {k: v for k, v in expected.items() if k[1] < split}
    assert rollups.refresh(conn)
    assert rolled(conn) == rollups_before
    assert same_history(histories(conn), history_before)
    # The Overview still counts the dropped weeks' errors (from the segment rollup) and marks
    # where each model and prompt version first appeared, to the day once its traces are gone.
    midnight = {"hour": 0, "minute": 0, "second": 0, "microsecond": 0}
    after = overview(conn)
    assert after == overview_before | {"firsts": sorted(
        (*f[:3], f[3].replace(**midnight) if f[3] < kept["traces"] else f[3])
        for f in overview_before["firsts"])}  # fmt: skip
    assert any(f[3] < kept["traces"] for f in overview_before["firsts"])

    # A re-run drops nothing more; a change noted for a dropped day does not shrink it.
    again = run_retention(conn, NOW)
    assert (again.traces, again.scores) == ([], [])
    old_day = outcome.traces[0].lo.date() + timedelta(days=1)
    conn.execute("INSERT INTO rollup_changes VALUES ('shop', %s)", (old_day,))
    assert rollups.refresh(conn)
    assert rolled(conn) == rollups_before
    log = store.last_drops(conn, limit=100)
    assert {r["data"] for r in log} == {"traces", "scores"}
    assert (
        sum(r["rows"]["traces"] for r in log if r["data"] == "traces")
        == 280 - conn.execute("SELECT count(*) AS n FROM trace_ids").fetchone()["n"]
    )
    # A new trace as old as what was dropped is refused (it would be dropped at once), and
    # still when the policy keeps traces forever now: dropped weeks were rolled up for good.
    old = Trace(id="late", app="shop", start_time=FIRST + timedelta(days=1))
    assert traces.insert_traces(conn, [old]).refused == ["late"]
    # One still stored but now older than the retention, imported again, is already there.
    stale = conn.execute(
        "SELECT id, app, start_time FROM traces WHERE start_time < %s ORDER BY start_time LIMIT 1",
        (NOW - timedelta(days=21),),
    ).fetchone()
    again = traces.insert_traces(conn, [Trace(**stale)])
    assert (again.inserted, again.already_present, again.refused) == (0, 1, [])
    store.set_policy(conn, Policy(traces_days=None, scores_days=None), "ops")
    older = Trace(id="older", app="shop", start_time=FIRST - timedelta(days=30))
    assert traces.insert_traces(conn, [old, older]).refused == ["late", "older"]
    assert partitions.kept_from(conn) == kept


def test_a_score_written_while_its_week_drops_is_rolled_up(ten_weeks: Conn) -> None:
    """The drop waits for a score transaction holding one of the week's traces, then rolls
    the week up with that score in it; a later score of the week is refused."""
    conn = ten_weeks
    store.set_policy(conn, POLICY, "ops")
    first = store.plan(conn, POLICY, NOW).traces[0]
    victim = conn.execute(
        "SELECT id FROM trace_ids WHERE part_time >= %s AND part_time < %s ORDER BY id LIMIT 1",
        (first.lo, first.hi),
    ).fetchone()["id"]
    late = scores.ScoreRow(victim, "late", "1", Score.scored(0.25))
    dropped: list[dict[str, Any]] = []
    with connect(conn.info.dsn) as writer, connect(conn.info.dsn, autocommit=True) as other:
        writer.execute("SELECT 1")  # a transaction, open until the commit below
        assert scores.upsert_scores(writer, [late], None) == 1
        drop = threading.Thread(
            target=lambda: dropped.append(store.drop_traces(other, first, None))
        )
        drop.start()
        drop.join(timeout=2)
        assert drop.is_alive()  # waiting for the score's transaction
        writer.commit()
        drop.join(timeout=60)
    assert dropped and dropped[0]["traces"] > 0
    rolled = conn.execute(
        "SELECT scored, total FROM score_segment_daily WHERE evaluator = 'late' AND seg_key = ''"
    ).fetchall()
    assert rolled == [{"scored": 1, "total": 0.25}]
    with pytest.raises(VigilError, match="not stored"):
        scores.upsert_scores(conn, [scores.ScoreRow(victim, "later", "1", Score.scored(0.5))], None)


def test_a_busy_table_makes_the_drop_give_way_and_roll_back(
    ten_weeks: Conn, admin_url: str
) -> None:
    conn = ten_weeks
    store.set_policy(conn, POLICY, "ops")
    first = store.plan(conn, POLICY, NOW).traces[0]
    before = conn.execute("SELECT count(*) AS n FROM trace_ids").fetchone()["n"]
    url = conn.info.dsn
    with connect(url) as reader:  # an open transaction reading spans holds the parent
        reader.execute("SELECT count(*) FROM spans")
        with pytest.raises(VigilError, match="stayed busy"):
            store.drop_traces(conn, first, None, lock_timeout=timedelta(milliseconds=100),
                              tries=2, pause=0)  # fmt: skip
        reader.rollback()
    assert conn.execute("SELECT count(*) AS n FROM trace_ids").fetchone()["n"] == before
    state = next(r for r in partitions.ranges(conn) if r.lo == first.lo)
    assert state.rolled_at is None and state.traces_dropped_at is None
    assert conn.execute("SELECT count(*) AS n FROM score_segment_daily").fetchone()["n"] == 0
    assert exists(conn, first.name("traces"))
    rows = store.drop_traces(conn, first, None)  # the reader is gone: it goes through
    assert rows["traces"] > 0 and not exists(conn, first.name("traces"))
    assert store.drop_traces(conn, first, None) == {}  # already dropped: nothing


def test_a_run_refuses_a_policy_that_drops_what_vigil_reads_now(ten_weeks: Conn) -> None:
    """The settings may have changed since the policy was set: a run checks it again."""
    conn = ten_weeks
    store.set_policy(conn, POLICY, "ops")  # scores kept 35 days: the Evaluators page reads 84
    needs = Needs(detection_days=8)
    dry = run_retention(conn, NOW, dry_run=True, needs=needs)
    assert dry.traces and "12 weeks of scores" in dry.refused
    assert dry.lines(dry_run=True)[-1].startswith("a run would drop nothing: --scores 35d")
    with pytest.raises(VigilError, match=r"dropped nothing\. --scores 35d .* at least 84d"):
        run_retention(conn, NOW, needs=needs)
    assert partitions.kept_from(conn) == {"traces": None, "scores": None}
    store.set_policy(conn, Policy(traces_days=21, scores_days=84), "ops")
    assert run_retention(conn, NOW, needs=needs).traces
