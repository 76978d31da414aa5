"""Regressions on a real PostgreSQL: one open row per key, refreshed, resolved after clean
windows, reopened; versions never pooled; the review queue from the named segment."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from flows.detection import Policy, detect
from flows.windows import detection_windows
from vigil.detection import Limits
from vigil.models import Score, Trace
from vigil.store import regressions as reg_store
from vigil.store.scores import ScoreRow, upsert_scores
from vigil.store.traces import insert_traces

START = datetime(2026, 5, 1, tzinfo=UTC)
ROUTES = ("billing", "technical", "account", "shipping")
POLICY = Policy(Limits(), review_limit=10, audit_per_day=0, resolve_after=2)


def seed_day(conn, day: int, bad_technical: bool = False, version: str = "1") -> None:  # type: ignore[no-untyped-def]
    """200 traces on day ``day``; with ``bad_technical``, groundedness falls on one route."""
    rng = random.Random(day)
    traces, rows = [], []
    for i in range(200):
        at = START + timedelta(days=day, minutes=7 * i)
        route = ROUTES[i % 4]
        quality = rng.gauss(0.75, 0.12)
        if bad_technical and route == "technical":
            quality = rng.gauss(0.35, 0.12)
        trace = Trace(id=f"d{day:02d}-{i:03d}", app="shop", start_time=at, input="q?",
                      output="a.", segment={"route": route}, latency_ms=900 + 100 * rng.random(),
                      tokens_in=800, tokens_out=120, cost_usd=0.0002)  # fmt: skip
        traces.append(trace)
        value = min(1.0, max(0.0, quality))
        rows.append(ScoreRow(trace.id, "groundedness", version, Score.scored(value)))
    with conn.transaction():
        insert_traces(conn, traces)
        upsert_scores(conn, rows, None)


def detect_day(conn, day: int) -> list[int]:  # type: ignore[no-untyped-def]
    window, baseline = detection_windows(START + timedelta(days=day + 1), 24, 7)
    with conn.transaction():
        return detect(conn, window, baseline, policy=POLICY)


def test_an_incident_is_one_row_until_clean_windows_resolve_it_and_it_reopens(conn) -> None:  # type: ignore[no-untyped-def]
    for day in range(7):
        seed_day(conn, day)
    seed_day(conn, 7, bad_technical=True)
    first = detect_day(conn, 7)
    assert first, "the incident on route=technical was not found"
    reg = conn.execute(
        "SELECT * FROM regressions WHERE metric = 'score' AND evaluator = 'groundedness'"
    ).fetchone()
    assert reg["segment"] == {}  # the app's mean fell by 0.1: the finding is the app's ...
    assert reg["attribution"][0]["segment"] == {"route": "technical"}  # ... named by route
    queued = conn.execute(
        "SELECT t.segment->>'route' AS route FROM review_items i JOIN traces t"
        " ON t.id = i.trace_id WHERE i.regression_id = %s",
        (reg["id"],),
    ).fetchall()
    assert len(queued) == 10 and {q["route"] for q in queued} == {"technical"}

    seed_day(conn, 8, bad_technical=True)  # the incident goes on: the same row is updated
    assert reg["id"] in detect_day(conn, 8)
    again = reg_store.get_regression(conn, reg["id"])
    assert again["last_seen"] > reg["last_seen"] and again["first_seen"] == reg["first_seen"]
    reg_store.acknowledge(conn, reg["id"], "dana")
    rows = conn.execute("SELECT count(*) AS n FROM regressions").fetchone()["n"]

    for day in (9, 10):  # two clean windows resolve it
        seed_day(conn, day)
        assert reg["id"] not in detect_day(conn, day)
    done = reg_store.get_regression(conn, reg["id"])
    assert done["status"] == "resolved" and done["clean_windows"] == 2

    seed_day(conn, 11, bad_technical=True)  # it comes back: the same row reopens
    assert reg["id"] in detect_day(conn, 11)
    back = reg_store.get_regression(conn, reg["id"])
    assert back["status"] == "open" and back["reopened"] == 1
    assert conn.execute("SELECT count(*) AS n FROM regressions").fetchone()["n"] == rows


def test_a_pass_run_twice_over_one_window_counts_it_once(conn) -> None:  # type: ignore[no-untyped-def]
    for day in range(7):
        seed_day(conn, day)
    seed_day(conn, 7, bad_technical=True)
    (rid, *_) = detect_day(conn, 7)
    seed_day(conn, 8)
    for _ in range(3):
        detect_day(conn, 8)
    assert reg_store.get_regression(conn, rid)["clean_windows"] == 1


def test_evaluator_versions_are_never_pooled(conn) -> None:  # type: ignore[no-untyped-def]
    for day in range(7):
        seed_day(conn, day, version="1")
    seed_day(conn, 7, bad_technical=True, version="2")  # a new version scores lower
    assert detect_day(conn, 7) == []  # version 2 has no baseline of its own yet


def test_a_lasting_incident_is_compared_with_the_time_before_it(conn) -> None:  # type: ignore[no-untyped-def]
    for day in range(7):
        seed_day(conn, day)
    found = []
    for day in range(7, 13):  # six bad days: most of a week's baseline by the end
        seed_day(conn, day, bad_technical=True)
        found.append(detect_day(conn, day))
    assert all(found), found  # the incident's own days are left out of later baselines
    (row,) = conn.execute(
        "SELECT * FROM regressions WHERE metric = 'score' AND evaluator = 'groundedness'"
    ).fetchall()
    assert row["status"] == "open" and row["first_seen"] == START + timedelta(days=7)
    assert row["last_seen"] == START + timedelta(days=13)
    queued = conn.execute(
        "SELECT count(*) AS n FROM review_items WHERE regression_id = %s", (row["id"],)
    ).fetchone()["n"]
    assert queued == POLICY.review_limit  # at most K for the whole regression, not a day
