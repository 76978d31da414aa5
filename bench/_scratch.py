"""Scaffolding the benchmarks share: a scratch PostgreSQL database, a Prefect server started
as `vigil up` starts it, and wall and CPU time of every process involved."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from psycopg import sql

from bench._ports import free_port
from cli.supervisor import services, stack
from vigil.db import connect
from vigil.db.connection import with_database
from vigil.db.embedded import EmbeddedServer
from vigil.settings import Settings

PREFECT_START_TIMEOUT_S = 180.0


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- a Prefect server ----------------------------------------
@contextlib.contextmanager
def prefect_server(settings: Settings, database: str) -> Iterator[int]:
    """``prefect server start`` as ``cli.supervisor.stack.prefect_server`` runs it, but with its
    database ``database`` (a SQLAlchemy URL): that function would create a database named
    ``prefect`` on the server, which may be someone's. Yields the server's pid."""
    env = {
        **stack.prefect_env(settings),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": database,
        "PREFECT_UI_API_URL": settings.prefect_api,
    }
    command = services.python_module(
        "prefect", "server", "start", "--host", settings.host, "--port", str(settings.prefect_port)
    )
    service = services.Service(
        "prefect", command, env, (f"{settings.prefect_api}/health",), PREFECT_START_TIMEOUT_S
    )
    started = time.perf_counter()
    pid = services.start(settings, service)
    try:
        took, log = time.perf_counter() - started, services.log_path(settings, "prefect")
        say(f"  Prefect server up in {took:.0f} s (log {log})")
        yield pid
    finally:
        services.stop(settings, "prefect")


def asyncpg_url(url: str) -> str:
    """A libpq URL as the SQLAlchemy/asyncpg URL Prefect's server takes."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    password = f":{info['password']}" if info.get("password") else ""
    user, host, port = (
        info.get("user") or "postgres",
        info.get("host") or "127.0.0.1",
        info.get("port") or 5432,
    )
    return f"postgresql+asyncpg://{user}{password}@{host}:{port}/{info['dbname']}"


# -- the database -------------------------------------------------------------------------
@contextlib.contextmanager
def postgres() -> Iterator[tuple[str, int | None]]:
    """The admin URL of the server to use, and its postmaster's pid when it is ours."""
    external = os.environ.get("VIGIL_DATABASE_URL")
    if external:
        yield with_database(external, "postgres"), None
        return
    with tempfile.TemporaryDirectory(prefix="vigil-bench-backfill-pg-") as home:
        server = EmbeddedServer(Path(home), "127.0.0.1", free_port())
        status = server.start()
        try:
            yield server.url("postgres"), status.pid
        finally:
            server.stop()


@contextlib.contextmanager
def scratch_database(admin_url: str, name: str) -> Iterator[str]:
    """A new, empty database ``name`` (dropped first if a previous run left it), dropped
    afterwards."""
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(admin_url, name)
    finally:
        with connect(admin_url, autocommit=True) as conn:
            conn.execute(drop)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- measuring ----------------------------------------------------------------------------
def _cpu(pid: int | None) -> float:
    """CPU seconds of a process, its reaped children and its live children (0 if none)."""
    if pid is None:
        return 0.0
    try:
        proc = psutil.Process(pid)
        t = proc.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                c = child.cpu_times()
                total += c.user + c.system
        return float(total)
    except psutil.Error:
        return 0.0


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # this process
    server_cpu: float  # the Prefect server (0 for path A: not running)
    db_cpu: float  # the embedded PostgreSQL (0 with VIGIL_DATABASE_URL)
    others_cpu: float  # every other process on the machine: a busy spell shows here


def _busy() -> float:
    """CPU seconds the whole machine has spent not idle."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def timed(
    work: Any, db_pid: int | None, server_pid: int | None = None
) -> tuple[dict[str, Any], Timing]:
    cpu, server, db, busy = time.process_time(), _cpu(server_pid), _cpu(db_pid), _busy()
    started = time.perf_counter()
    result = work()
    wall = time.perf_counter() - started
    cpu, server, db = time.process_time() - cpu, _cpu(server_pid) - server, _cpu(db_pid) - db
    others = _busy() - busy - cpu - server - db
    return result, Timing(wall, cpu, server, db, others)
