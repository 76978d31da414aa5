"""`vigil backfill`: in-process with --local, and its errors."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from tests.cli.helpers import seed, vigil
from tests.conftest import free_port


def test_local_backfill_without_a_server(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    seed(conn, day)
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_PREFECT_PORT": str(free_port())}
    env.pop("PREFECT_API_URL", None)
    args = [
        "backfill",
        "--local",
        "--start",
        f"{day:%Y-%m-%d}",
        "--evaluator",
        "groundedness",
        "--end",
        f"{day + timedelta(days=1):%Y-%m-%d}",
    ]
    run = vigil(args, env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "local run completed: 12 traces, 12 scored" in run.stdout
    rows = conn.execute("SELECT evaluator, status FROM scores").fetchall()
    assert {(r["evaluator"], r["status"]) for r in rows} == {("groundedness", "scored")}
    assert len(rows) == 12


def test_an_empty_range_is_refused_before_anything_runs(db_url: str) -> None:
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url}
    run = vigil(["backfill", "--start", "2026-11-08", "--end", "2026-11-01"], env)
    assert run.returncode == 1
    assert run.stderr.strip() == (
        "error: --end (2026-11-01 00:00) must be after --start (2026-11-08 00:00)."
    )


def test_without_a_server_the_deployment_path_says_what_to_do(db_url: str) -> None:
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_PREFECT_PORT": str(free_port())}
    run = vigil(["backfill", "--start", "2026-11-01", "--end", "2026-11-02"], env)
    assert run.returncode == 1
    assert "does not answer" in run.stderr and "vigil up" in run.stderr and "--local" in run.stderr


def test_a_missing_end_is_named(db_url: str) -> None:
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url}
    run = vigil(["backfill", "--start", "2026-11-01"], env)
    assert run.returncode == 2
    assert "Missing option '--end'" in run.stderr and "Traceback" not in run.stderr
