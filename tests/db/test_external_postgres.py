"""Vigil on a PostgreSQL it did not start, as a managed service gives it: a second server
started by this module, a role that is not a superuser (owner of its database, no CREATEDB),
pgvector created beforehand by the administrator, and Vigil's tables in a schema of their
own (VIGIL_DATABASE_SCHEMA)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port
from vigil.db import connect, migrate
from vigil.db.connection import prefect_database_url, with_schema
from vigil.db.embedded import EmbeddedServer
from vigil.db.migrate import available
from vigil.errors import VigilError
from vigil.settings import load_settings

ROLE = "vigil_app"
SCHEMA = "vigil"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """The second server, with the role and a database it owns (pgvector installed by the
    administrator), and a database it does not own."""
    pg = EmbeddedServer(tmp_path_factory.mktemp("external-pg"), "127.0.0.1", free_port())
    pg.start()
    try:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            admin.execute(f"CREATE DATABASE app OWNER {ROLE}")
            admin.execute("CREATE DATABASE shared")  # owned by the administrator
        for database in ("app", "shared"):
            with psycopg.connect(pg.url(database), autocommit=True) as admin:
                admin.execute("CREATE EXTENSION vector")
        yield pg
    finally:
        pg.stop()


def role_url(server: EmbeddedServer, database: str) -> str:
    return f"postgresql://{ROLE}@127.0.0.1:{server.port}/{database}"


def vigil(args: list[str], url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_DATABASE_URL": url, "VIGIL_DATABASE_SCHEMA": SCHEMA,
           "VIGIL_HOME": str(home), "VIGIL_USER": "ci"}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def tables(url: str, schema: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return {r[0] for r in rows}


def test_two_processes_migrate_at_once_and_the_schema_is_vigils(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    url = role_url(server, "app")
    runs = [subprocess.Popen([sys.executable, "-m", "cli.main", "db", "migrate"],
                             env={**os.environ, "VIGIL_DATABASE_URL": url,
                                  "VIGIL_DATABASE_SCHEMA": SCHEMA,
                                  "VIGIL_HOME": str(tmp_path / f"home{i}")},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(2)]  # fmt: skip
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    said = sorted(out for out, _ in outputs)  # one applied them all, the other none
    assert said[0].startswith("migrations applied: 0001_initial, ")
    assert said[1] == "migrations applied: none pending\n"
    with psycopg.connect(with_schema(url, SCHEMA)) as conn:
        applied = conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
        owner = conn.execute("SELECT nspowner::regrole::text FROM pg_namespace"
                             " WHERE nspname = %s", (SCHEMA,)).fetchone()  # fmt: skip
    assert [r[0] for r in applied] == [m.name for m in available()]  # each once
    assert owner == (ROLE,)
    assert {"traces", "scores", "gate_runs", "schema_migrations"} <= tables(url, SCHEMA)
    assert tables(url, "public") == set()  # nothing of Vigil's outside its schema


def test_commands_work_on_the_external_database(server: EmbeddedServer, tmp_path: Path) -> None:
    url = role_url(server, "app")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    traces = tmp_path / "traces.jsonl"
    traces.write_text("".join(json.dumps({
        "id": f"ext-{i}", "app": "shop", "start_time": day.isoformat(), "latency_ms": 100 + i,
        "input": f"What is the refund window for order {i}?",
        "output": "Refunds are possible within 30 days.",
        "retrievals": [{"document_id": "policy", "content": "Refunds within 30 days."}],
    }) + "\n" for i in range(5)))  # fmt: skip
    golden = tmp_path / "golden.jsonl"
    golden.write_text(json.dumps({"id": "g1", "input": "Refund window?", "reference": "30"}))
    home = tmp_path / "home"
    steps = [
        (["ingest", str(traces)], "stored 5 traces"),
        (["evaluate", "--trace", "ext-0", "--evaluator", "latency_ms"], "latency_ms"),
        (["backfill", "--local", "--evaluator", "latency_ms", "--start", f"{day:%Y-%m-%d}",
          "--end", f"{day + timedelta(days=1):%Y-%m-%d}"],
         "4 traces, 4 scored"),  # ext-0 was scored by `evaluate` above
        (["runs"], "backfill"),
        (["keys", "create", "--app", "shop"], "vgl_"),
        (["datasets", "import", str(golden), "--name", "faq"], "faq@1"),
        (["users", "add", "ann", "--role", "admin", "--email", "ann@example.com",
          "--no-password", "--by", "ci"], "ann"),
        (["regressions"], ""),
    ]  # fmt: skip
    for args, expected in steps:
        done = vigil(args, url, home)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert expected in done.stdout, (args, done.stdout)
    assert not (home / "pg").exists(), "no embedded server was started"
    with psycopg.connect(with_schema(url, SCHEMA)) as conn:
        scored = conn.execute("SELECT count(*) FROM scores WHERE evaluator = 'latency_ms'"
                              ).fetchone()  # fmt: skip
    assert scored == (5,)


def test_what_the_role_may_not_do_is_said_with_the_fix(server: EmbeddedServer) -> None:
    no_schema = rf"Schema 'vigil' does not exist and role '{ROLE}' may not create it.*CREATE SCHEMA"
    shared = with_schema(role_url(server, "shared"), SCHEMA)
    with connect(shared, autocommit=True) as conn, pytest.raises(VigilError, match=no_schema):
        migrate(conn)
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute("CREATE DATABASE bare")  # no pgvector
        admin.execute(f"GRANT CREATE ON DATABASE bare TO {ROLE}")
    no_vector = r"pgvector extension is not installed.*CREATE EXTENSION vector"
    bare = with_schema(role_url(server, "bare"), SCHEMA)
    with connect(bare, autocommit=True) as conn, pytest.raises(VigilError, match=no_vector):
        migrate(conn)
    settings = load_settings(database_url=role_url(server, "app"))
    with pytest.raises(VigilError, match=r"may not create 'prefect'.*VIGIL_PREFECT_DATABASE_URL"):
        prefect_database_url(settings)
    given = "postgresql+asyncpg://prefect@db.internal:5432/prefect"
    assert prefect_database_url(load_settings(prefect_database_url=given)) == given


def test_the_schema_option_is_added_once() -> None:
    url = with_schema("postgresql://app@db:5432/vigil?sslmode=require", SCHEMA)
    assert url == ("postgresql://app@db:5432/vigil?sslmode=require"
                   "&options=-c%20search_path%3Dvigil%2Cpublic")  # fmt: skip
    assert with_schema(url, SCHEMA) == url  # a child given the parent's URL
    assert with_schema(url, None) == url
