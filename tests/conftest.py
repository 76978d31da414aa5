"""Fixtures: one real embedded PostgreSQL per test session, tables emptied between tests.

Set VIGIL_TEST_DATABASE_URL to run the suite against another PostgreSQL with pgvector
instead (its database is migrated and emptied: never point it at production).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import vigil  # noqa: F401  (telemetry off before any library is imported)
from tests import leftovers
from vigil.db import connect, ensure_database_exists, migrate
from vigil.db.connection import with_database
from vigil.db.embedded import EmbeddedServer
from vigil.db.types import Conn

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TABLES = (
    "review_events, review_items, regressions, scores, eval_claims, sampling_policies,"
    " eval_runs, retrievals, spans, traces, segment_keys, alert_attempts, alert_notices,"
    " alert_states, canaries, users, grants, access_events, score_daily, trace_daily,"
    " latency_daily, reviewed_examples, sign_in_attempts, rollup_changes,"
    " gate_scores, gate_outputs, gate_runs, dataset_items, dataset_versions, golden_items,"
    " datasets, judge_budgets, trace_ids, score_segment_daily, retention_policies, retention_log"
)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SERVERS_BEFORE] = leftovers.servers()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a server a test started is still running (see tests/leftovers.py)."""
    before = session.config.stash.get(_SERVERS_BEFORE, {})
    marks = [str(session.config._tmp_path_factory.getbasetemp())]  # type: ignore[attr-defined]
    alive = leftovers.leftovers(before, marks)
    if alive:
        lines = "\n".join(f"  pid {p.pid}: {p.cmdline[:200]}" for p in alive)
        session.config.get_terminal_writer().line(
            f"\nLEFT RUNNING by the tests (a fixture did not stop them):\n{lines}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_SERVERS_BEFORE = pytest.StashKey[dict[int, str]]()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def vigil_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own VIGIL_HOME: nothing is written into the working tree."""
    home = tmp_path / "vigil-home"
    monkeypatch.setenv("VIGIL_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer | None]:
    if os.environ.get("VIGIL_TEST_DATABASE_URL"):
        yield None
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("vigil-home"), "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin_url(pg_server: EmbeddedServer | None) -> str:
    external = os.environ.get("VIGIL_TEST_DATABASE_URL")
    if external:
        return external
    assert pg_server is not None
    return pg_server.url("postgres")


@pytest.fixture(scope="session")
def migrated_url(admin_url: str) -> str:
    """A database named vigil_test, migrated once for the session."""
    ensure_database_exists(admin_url, "vigil_test")
    url = with_database(admin_url, "vigil_test")
    with connect(url, autocommit=True) as conn:
        migrate(conn)
    return url


@pytest.fixture
def db_url(migrated_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The migrated test database, emptied, and exported as VIGIL_DATABASE_URL."""
    with connect(migrated_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        conn.execute("DELETE FROM model_prices WHERE source <> 'vigil default'")
        if conn.execute("SELECT to_regclass('langchain_pg_collection') AS t").fetchone()["t"]:
            conn.execute("TRUNCATE langchain_pg_collection CASCADE")  # the apps' vector stores
    monkeypatch.setenv("VIGIL_DATABASE_URL", migrated_url)
    return migrated_url


@pytest.fixture
def conn(db_url: str) -> Iterator[Conn]:
    with connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared evaluation data not found at {SHARED_DATA} (it sits beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def embeddings():  # type: ignore[no-untyped-def]
    """The real packaged MiniLM model, loaded once per test session."""
    from vigil.embeddings import load_embeddings

    return load_embeddings()


@pytest.fixture(scope="session")
def provider(embeddings):  # type: ignore[no-untyped-def]
    from evaluators.providers import MiniLMProvider

    return MiniLMProvider(embeddings)
