"""Migrations on a blank database: the schema they build, and their append-only record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.db import connect, ensure_database_exists, migrate
from vigil.db.connection import with_database
from vigil.db.migrate import available
from vigil.errors import VigilError

EXPECTED_TABLES = {
    "schema_migrations",
    "trace_ids",
    "traces",
    "spans",
    "retrievals",
    "scores",
    "eval_runs",
    "regressions",
    "review_items",
    "review_events",
}


@pytest.fixture
def blank_url(admin_url: str) -> str:
    with connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS vigil_blank")
    ensure_database_exists(admin_url, "vigil_blank")
    return with_database(admin_url, "vigil_blank")


def test_migrating_a_blank_database_builds_the_schema(blank_url: str) -> None:
    with connect(blank_url, autocommit=True) as conn:
        applied = migrate(conn)
        assert applied == [m.name for m in available()]
        assert applied[0] == "0001_initial"
        tables = {
            r["tablename"]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert tables >= EXPECTED_TABLES
        ext = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = ext.fetchone()
        assert row is not None and row["extversion"].startswith("0.8")
        indexes = {r["indexname"] for r in conn.execute("SELECT indexname FROM pg_indexes")}
        assert {"traces_app_start_idx", "traces_segment_idx", "scores_app_eval_time_idx"} <= indexes
        recorded = conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
        assert [r["name"] for r in recorded] == applied


def test_migrate_is_idempotent(blank_url: str) -> None:
    with connect(blank_url, autocommit=True) as conn:
        migrate(conn)
        assert migrate(conn) == []


def test_an_edited_migration_is_refused(blank_url: str) -> None:
    with connect(blank_url, autocommit=True) as conn:
        migrate(conn)
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE name = '0001_initial'")
        with pytest.raises(VigilError, match="append-only"):
            migrate(conn)


def test_scores_are_unique_per_trace_evaluator_version(conn) -> None:  # type: ignore[no-untyped-def]
    # A score's trace_start is its trace's part_time (vigil.store.scores reads it from
    # trace_ids), so the key (trace, evaluator, version, trace_start) is one row per
    # (trace, evaluator, version).
    start = datetime.now(UTC)
    conn.execute(
        "INSERT INTO traces (id, app, start_time, part_time) VALUES ('t1', 'a', %s, %s)",
        (start, start),
    )
    insert = (
        "INSERT INTO scores (trace_id, app, trace_start, evaluator, evaluator_version, value,"
        " status) VALUES ('t1', 'a', %s, 'g', '1', 0.5, 'scored')"
    )
    conn.execute(insert, (start,))
    with pytest.raises(Exception, match="unique"):
        conn.execute(insert, (start,))


def test_a_failed_score_cannot_carry_a_value(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        "INSERT INTO traces (id, app, start_time, part_time) VALUES ('t1', 'a', now(), now())"
    )
    with pytest.raises(Exception, match="check constraint"):
        conn.execute(
            "INSERT INTO scores (trace_id, app, trace_start, evaluator, evaluator_version, value,"
            " status, explanation) VALUES ('t1', 'a', now(), 'g', '1', 0.0, 'error', 'boom')"
        )


def test_connection_errors_never_show_the_password() -> None:
    from vigil.db import connect
    from vigil.db.connection import redact_url

    url = "postgresql://vigil:s3cret@127.0.0.1:1/vigil"
    assert redact_url(url) == "postgresql://vigil:***@127.0.0.1:1/vigil"
    assert redact_url("host=x password=s3cret dbname=v") == "host=x password=*** dbname=v"
    assert (
        redact_url("postgresql://postgres@127.0.0.1:5/v") == "postgresql://postgres@127.0.0.1:5/v"
    )
    with pytest.raises(VigilError) as caught:
        connect(url)
    assert "s3cret" not in str(caught.value) and "vigil:***@127.0.0.1:1" in str(caught.value)
