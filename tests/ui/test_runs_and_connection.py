"""The Evaluation runs page, and the database connection every page uses."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.pages import APP, WINDOW, open_page, seed
from ui.access import Viewer


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


def test_runs_over_every_app_are_shown_to_admins_only(conn: psycopg.Connection) -> None:
    """A run over every app counts, errors and costs every app's traces: a reviewer granted
    one app sees that app's runs, not those totals, nor another app's runs."""
    from vigil.store import runs

    def start(app: str | None, message: str) -> int:
        run_id = runs.start_run(
            conn, kind="window", window_start=WINDOW[0], window_end=WINDOW[1],
            evaluators=["groundedness"], app=app,
        )  # fmt: skip
        runs.add_progress(conn, run_id, done=3, scored=1, skipped=0, errors=2, cost_usd=1.5)
        runs.finish_run(conn, run_id, "completed", message)
        return run_id

    every = start(None, "SECRET every app")
    granted = start("support-bot", "support-bot run")
    other = start("billing-bot", "SECRET billing run")

    at = open_page("app_pages/runs.py", Viewer("rui", "reviewer", frozenset({"support-bot"})))
    table = at.dataframe[0].value
    assert table["id"].tolist() == [granted]
    assert not table["message"].str.contains("SECRET").any()

    at = open_page("app_pages/runs.py")  # an admin
    assert at.dataframe[0].value["id"].tolist() == [other, granted, every]

    at = open_page("app_pages/runs.py", Viewer("vic", "viewer", frozenset({"billing-bot"})))
    assert at.dataframe[0].value["id"].tolist() == [other]
    assert runs.recent_runs(conn, apps=[]) == []  # granted nothing: no run at all


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


def test_the_embedded_database_stays_on_loopback_whatever_the_host(tmp_path: Path) -> None:
    """`vigil up --host 0.0.0.0` moves the app and the other services, not the embedded
    PostgreSQL, which lets local connections in without a password (docs/access.md)."""
    from vigil.db import embedded_server
    from vigil.settings import Settings

    server = embedded_server(Settings(home=tmp_path, host="0.0.0.0", db_port=54999))
    assert server.host == "127.0.0.1"
    assert server.url("vigil") == "postgresql://postgres@127.0.0.1:54999/vigil"
