"""Migrating a populated database through 0012 (the rollups' first fill) and 0014 (their
rebuild): the rollups then equal the aggregates of the rows that were there, and follow
what is written afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.db.helpers import database_at
from tests.store.test_rollups import assert_rollups_match, rolled
from vigil.db import migrate
from vigil.db.migrate import available
from vigil.db.types import Conn
from vigil.ingest.spans import store_spans
from vigil.models import MappedSpan
from vigil.store import rollups

DATABASE = "vigil_migrate_data"
UP_TO = "0008_ingest_counters"
T0 = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)


@pytest.fixture
def at_0008(admin_url: str) -> Iterator[Conn]:
    """A fresh database migrated up to 0008 only, recorded as ``migrate`` records it."""
    assert "0012_ui_indexes" in [m.name for m in available()]
    with database_at(admin_url, DATABASE, UP_TO) as conn:
        yield conn


def populate(conn: Conn) -> None:
    """Traces over three UTC days in two apps (some incomplete, some without latency or
    cost), and their scores in every status, written with 0008's triggers in place."""
    conn.execute(
        """
        INSERT INTO traces (id, app, start_time, latency_ms, model, prompt_version,
                            tokens_in, tokens_out, cost_usd, complete)
        SELECT 't' || g, CASE WHEN g %% 3 = 0 THEN 'sales' ELSE 'support' END,
               %(t0)s::timestamptz + make_interval(mins => g * 7),
               CASE WHEN g %% 11 = 0 THEN NULL ELSE 50 + (g * 37) %% 4000 END,
               CASE WHEN g %% 5 = 0 THEN NULL ELSE 'gpt-' || (g %% 2) END,
               CASE WHEN g %% 7 = 0 THEN NULL ELSE 'v' || (g %% 3) END,
               100 + g, 10 + g %% 50,
               CASE WHEN g %% 13 = 0 THEN NULL ELSE g / 1e6 END,
               g %% 17 <> 0
        FROM generate_series(1, 600) g
        """,
        {"t0": T0},
    )
    conn.execute(
        """
        INSERT INTO scores (trace_id, app, trace_start, evaluator, evaluator_version, value,
                            measure, status)
        SELECT t.id, t.app, t.start_time, e.name, '1',
               CASE WHEN s.status = 'scored' AND e.name <> 'cost'
                    THEN (abs(hashtext(t.id || e.name)) % 1000) / 1000.0 END,
               CASE WHEN s.status = 'scored' AND e.name = 'cost' THEN coalesce(t.cost_usd, 0) END,
               s.status
        FROM traces t
        CROSS JOIN (VALUES ('groundedness'), ('relevance'), ('cost')) e(name)
        CROSS JOIN LATERAL (SELECT CASE abs(hashtext(t.id || e.name)) % 10
                                   WHEN 0 THEN 'error' WHEN 1 THEN 'skipped'
                                   ELSE 'scored' END AS status) s
        """
    )


def test_a_populated_database_migrates_to_rollups_that_match_its_rows(at_0008: Conn) -> None:
    conn = at_0008
    populate(conn)
    applied = migrate(conn)
    assert applied[0] == "0009_users" and "0012_ui_indexes" in applied
    assert applied[-1] == available()[-1].name

    assert_rollups_match(conn)
    assert len(rolled(conn)["trace_daily"]) > 10 and len(rolled(conn)["score_daily"]) > 10
    assert rollups.refresh(conn)  # nothing new: the migration's mark covers every row
    assert_rollups_match(conn)

    # Then it goes on like any database: a re-assembled trace, a new one, a rescored error.
    first = conn.execute("SELECT id, start_time FROM traces WHERE complete ORDER BY id LIMIT 1")
    row = first.fetchone()
    conn.execute(
        "UPDATE traces SET latency_ms = 99999, start_time = start_time - interval '1 day',"
        " model = 'gpt-9' WHERE id = %s",
        (row["id"],),
    )
    late = row["start_time"] + timedelta(days=1)
    spans = [
        MappedSpan(trace_id="new", span_id="root", parent_span_id=None, name="root",
                   kind="chain", start_time=late, end_time=late + timedelta(seconds=1),
                   status="ok", attributes={})
    ]  # fmt: skip
    with conn.transaction():
        store_spans(conn, "support", spans, lambda t: t)
    conn.execute(
        "UPDATE scores SET status = 'scored', value = 0.5, attempts = attempts + 1"
        " WHERE id = (SELECT min(id) FROM scores WHERE status = 'error' AND evaluator <> 'cost')"
    )
    assert rollups.refresh(conn)
    assert_rollups_match(conn)
