"""Migrating a populated database to partitioned traces, spans, retrievals and scores (0017):
every row is kept, in the partition of its trace's start time, and the database goes on
like a new one (late spans, retried errors, old traces whose partition is made on demand)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.db.helpers import before, database_at, named
from tests.store.test_rollups import assert_rollups_match
from vigil.db import migrate
from vigil.db.types import Conn
from vigil.ingest.spans import store_spans
from vigil.models import MappedSpan, Score, Trace
from vigil.store import partitions, rollups, scores, traces

DATABASE = "vigil_migrate_partitions"
T0 = datetime(2026, 9, 2, 22, 30, tzinfo=UTC)  # a Wednesday; the data spans six weeks
COUNTED = ("traces", "spans", "retrievals", "scores", "eval_claims", "review_items",
           "review_events")  # fmt: skip


@pytest.fixture
def previous(admin_url: str) -> Iterator[Conn]:
    """A database at the migration before 0017, as the previous release left it."""
    with database_at(admin_url, DATABASE, before(named("0017"))) as conn:
        yield conn


def populate(conn: Conn) -> None:
    """Six weeks of traces in two apps (a few incomplete), two spans and a chunk each, scores
    in every status, claims, and review items pending and labelled with their events. The
    scores were written before their trace was re-assembled: for one trace, a late root span
    moved its start a day earlier after scoring (trace_start then differs from start_time)."""
    conn.execute(
        """
        INSERT INTO traces (id, app, start_time, latency_ms, model, prompt_version, segment,
                            tokens_in, cost_usd, complete)
        SELECT 't' || g, CASE WHEN g %% 3 = 0 THEN 'sales' ELSE 'support' END,
               %(t0)s::timestamptz + make_interval(hours => g * 5),
               50 + (g * 37) %% 4000, 'gpt-' || (g %% 2), 'v' || (g %% 3),
               jsonb_build_object('route', 'r' || (g %% 4)), 100 + g, g / 1e6, g %% 17 <> 0
        FROM generate_series(1, 200) g
        """,
        {"t0": T0},
    )
    conn.execute(
        """
        INSERT INTO spans (trace_id, span_id, parent_span_id, kind, name, start_time, status)
        SELECT t.id, s.id, CASE WHEN s.id = 'child' THEN 'root' END, 'chain', s.id,
               t.start_time + make_interval(secs => s.n), 'ok'
        FROM traces t CROSS JOIN (VALUES ('root', 0), ('child', 1)) s(id, n)
        """
    )
    conn.execute(
        "INSERT INTO retrievals (trace_id, span_id, rank, content)"
        " SELECT id, 'child', 0, 'chunk of ' || id FROM traces"
    )
    conn.execute(
        """
        INSERT INTO scores (trace_id, app, trace_start, evaluator, evaluator_version, value,
                            status, explanation, attempts)
        SELECT t.id, t.app, t.start_time, e.name, '1',
               CASE WHEN s.status = 'scored' THEN (abs(hashtext(t.id || e.name)) % 1000) / 1000.0
               END,
               s.status, CASE WHEN s.status = 'error' THEN 'judge timed out' END, 1
        FROM traces t
        CROSS JOIN (VALUES ('groundedness'), ('relevance')) e(name)
        CROSS JOIN LATERAL (SELECT CASE abs(hashtext(t.id || e.name)) % 10
                                   WHEN 0 THEN 'error' WHEN 1 THEN 'skipped'
                                   ELSE 'scored' END AS status) s
        """
    )
    # t7's root arrived after scoring: its start moved a day earlier (a week earlier for t40,
    # across a week boundary), its scores kept the start they were written with.
    conn.execute(
        "UPDATE traces SET start_time = start_time - interval '1 day' WHERE id = 't7';"
        "UPDATE traces SET start_time = start_time - interval '7 days' WHERE id = 't40'"
    )
    conn.execute(
        "INSERT INTO eval_claims (trace_id, reason) SELECT id, 'sampled' FROM traces"
        " WHERE id IN ('t1', 't2', 't40')"
    )
    for trace_id, status in (("t3", "pending"), ("t40", "labeled"), ("t199", "labeled")):
        item = conn.execute(
            "INSERT INTO review_items (trace_id, reason, status, label, reviewer, labeled_at)"
            " VALUES (%s, 'audit', %s, %s, %s, %s) RETURNING id",
            (trace_id, status, *(("correct", "ana", T0) if status == "labeled" else (None,) * 3)),
        ).fetchone()
        assert item is not None
        conn.execute(
            "INSERT INTO review_events (item_id, actor, action) VALUES (%s, 'ana', 'label')",
            (item["id"],),
        )


def counts(conn: Conn) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in COUNTED}


def test_a_populated_database_moves_into_partitions(previous: Conn) -> None:
    conn = previous
    populate(conn)  # the rollups are not refreshed: the migration rebuilds them
    before_counts = counts(conn)
    starts = {r["id"]: r["start_time"] for r in conn.execute("SELECT id, start_time FROM traces")}
    moved = conn.execute("SELECT trace_start FROM scores WHERE trace_id = 't40' LIMIT 1")
    assert moved.fetchone()["trace_start"] != starts["t40"]
    last_score = conn.execute("SELECT max(id) AS id FROM scores").fetchone()["id"]

    assert migrate(conn)[0] == named("0017")

    assert counts(conn) == before_counts
    assert conn.execute("SELECT count(*) AS n FROM trace_ids").fetchone()["n"] == len(starts)
    # Each trace's part_time is its start time, and each row sits in its trace's partition.
    stored = {r["id"]: (r["part_time"], r["app"]) for r in conn.execute("SELECT * FROM trace_ids")}
    assert {i: part for i, (part, _) in stored.items()} == starts
    for table, key, time in (("traces", "id", "part_time"), ("spans", "trace_id", "part_time"),
                             ("retrievals", "trace_id", "part_time"),
                             ("scores", "trace_id", "trace_start")):  # fmt: skip
        misplaced = conn.execute(
            f"""
            SELECT x.{key}, x.tableoid::regclass::text AS partition, x.{time} AS at
            FROM {table} x JOIN trace_ids k ON k.id = x.{key}
            WHERE x.{time} <> k.part_time
               OR x.tableoid <> to_regclass(%s || '_p' || to_char(
                      date_trunc('week', k.part_time AT TIME ZONE 'UTC'), 'YYYYMMDD'))
            """,
            (table,),
        ).fetchall()
        assert misplaced == [], table
    # Every week from the first trace to two weeks ahead is partitioned; t40 moved a week back.
    weeks = partitions.ranges(conn)
    assert weeks[0].lo <= min(starts.values()) < weeks[0].hi
    assert weeks[-1].hi > datetime.now(UTC) + timedelta(days=14)
    assert all(a.hi == b.lo for a, b in itertools.pairwise(weeks))
    # Review items carry their trace's app and partition; the labelled ones keep their events.
    items = conn.execute("SELECT trace_id, app, part_time FROM review_items").fetchall()
    assert {(i["part_time"], i["app"]) for i in items} == {stored[i["trace_id"]] for i in items}

    # The rollups match the rows (score days follow the moved starts), and a refresh adds
    # nothing: the migration's mark covers every row.
    assert_rollups_match(conn)
    assert rollups.refresh(conn)
    assert_rollups_match(conn)

    # Then it goes on: a late span of a migrated trace joins its trace in its partition ...
    late = starts["t5"] + timedelta(minutes=3)
    span = MappedSpan(trace_id="t5", span_id="late", parent_span_id="root", name="late",
                      kind="llm", start_time=late, end_time=late + timedelta(seconds=1),
                      status="ok", attributes={})  # fmt: skip
    with conn.transaction():
        written = store_spans(conn, "support", [span], lambda t: t)
    assert written.stored == 1 and written.rejected == []
    row = conn.execute(
        "SELECT tableoid::regclass::text AS partition FROM spans WHERE span_id = 'late'"
    ).fetchone()
    assert row["partition"] == partitions.partition_name("spans", weeks[0].lo)
    # ... a retried error is replaced in place (one row, two attempts, the sequence goes on) ...
    error = conn.execute(
        "SELECT trace_id, evaluator FROM scores WHERE status = 'error' ORDER BY trace_id LIMIT 1"
    ).fetchone()
    retry = scores.ScoreRow(error["trace_id"], error["evaluator"], "1", Score.scored(0.5))
    assert scores.upsert_scores(conn, [retry], None) == 1
    again = conn.execute(
        "SELECT attempts, status, written_xid FROM scores WHERE trace_id = %s AND evaluator = %s",
        (error["trace_id"], error["evaluator"]),
    ).fetchall()
    assert len(again) == 1 and again[0]["attempts"] == 2 and again[0]["written_xid"]
    new = Trace(id="fresh", app="support", start_time=datetime.now(UTC), output="hi")
    traces.insert_traces(conn, [new])
    assert scores.upsert_scores(
        conn, [scores.ScoreRow("fresh", "groundedness", "1", Score.scored(0.9))], None
    )
    row = conn.execute("SELECT id, written_xid FROM scores WHERE trace_id = 'fresh'").fetchone()
    assert row["id"] > last_score and row["written_xid"]
    completed = conn.execute("SELECT completed_xid FROM traces WHERE id = 'fresh'").fetchone()
    assert completed["completed_xid"]  # 0008's trigger, on the new parent
    # ... and a year-old trace gets a partition made for it.
    old = Trace(id="old", app="support", start_time=T0 - timedelta(days=365))
    assert traces.insert_traces(conn, [old]).inserted == 1
    assert partitions.ranges(conn)[0].lo <= old.start_time < partitions.ranges(conn)[0].hi
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
    # A review item for a trace that is not stored is refused, as the foreign key did.
    with pytest.raises(Exception, match="not stored"):
        conn.execute("INSERT INTO review_items (trace_id, reason) VALUES ('nope', 'audit')")
