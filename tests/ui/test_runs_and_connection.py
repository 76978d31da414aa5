"""The Evaluation runs page, and the database connection every page uses."""

from __future__ import annotations

import socket

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.pages import APP, WINDOW, open_page, seed


def test_runs_page_renders(conn: psycopg.Connection) -> None:
    from vigil.store import runs

    run_id = runs.start_run(
        conn,
        kind="window",
        window_start=WINDOW[0],
        window_end=WINDOW[1],
        evaluators=["groundedness"],
        traces_total=4,
    )
    runs.add_progress(conn, run_id, done=2, scored=2, skipped=0, errors=0)
    at = open_page("app_pages/runs.py")

    table = at.dataframe[0].value
    assert table[["id", "status", "progress"]].values.tolist() == [[run_id, "running", 0.5]]


def test_a_dropped_connection_is_replaced(conn: psycopg.Connection) -> None:
    seed(conn)
    at = open_page("app_pages/regressions.py")
    conn.execute(  # what a database restart does to the app's connection
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    at.run()
    assert not at.exception
    assert at.dataframe[0].value["metric"].tolist() == ["score · groundedness"]


def test_unreachable_database_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    monkeypatch.setenv("VIGIL_DATABASE_URL", f"postgresql://vigil@127.0.0.1:{port}/vigil")
    at = AppTest.from_file(str(APP), default_timeout=30).run()

    assert not at.exception
    assert "vigil db start" in at.error[0].value
    assert "VIGIL_DATABASE_URL" in at.error[0].value
