"""Arize Phoenix as a peer for the OTLP ingestion benchmark.

Phoenix runs from its own virtual environment (``bench/.venvs/phoenix``) with its default
SQLite storage, bound to 127.0.0.1. Its OTLP/HTTP receiver (``POST /v1/traces``, protobuf
only) shares the HTTP port; it answers 200 before the spans are written (they go through an
in-memory queue and a bulk inserter), so a benchmark must count what is *stored* with
:attr:`Peer.count_spans`, which reads the ``spans`` table of the SQLite file directly.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from bench._ports import free_port

PHOENIX_VERSION = "20.26.1"

VENV_DIR = Path(__file__).resolve().parent / ".venvs" / "phoenix"
_MARKER = VENV_DIR / ".installed-arize-phoenix"
_START_TIMEOUT_S = 180.0
_STOP_TIMEOUT_S = 30.0


def _venv_python() -> Path:
    return VENV_DIR / "bin" / "python"


def ensure_venv() -> Path:
    """Create bench/.venvs/phoenix and pip install arize-phoenix==PHOENIX_VERSION if not
    already installed at that version (idempotent, fast when present); return its python."""
    python = _venv_python()
    if python.exists() and _installed_version() == PHOENIX_VERSION:
        return python
    VENV_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV_DIR.parent / "phoenix.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be installing right now
        if python.exists() and _installed_version() == PHOENIX_VERSION:
            return python
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
        _MARKER.unlink(missing_ok=True)
        print(f"installing arize-phoenix=={PHOENIX_VERSION} into {VENV_DIR} ...", file=sys.stderr)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-qq", f"arize-phoenix=={PHOENIX_VERSION}"],
            check=True,
            env=_clean_env(),
        )
        _MARKER.write_text(PHOENIX_VERSION + "\n")
    return python


def _installed_version() -> str | None:
    try:
        return _MARKER.read_text().strip()
    except OSError:
        return None


def _no_database() -> float:
    return 0.0


@dataclass
class Peer:
    """A receiver under load: where to send, how to count what it stored, and its process
    (``pid``, with its children). ``database_cpu`` gives the CPU seconds so far of a
    database server of its own (0 when, as Phoenix's SQLite, the database runs inside)."""

    name: str
    traces_url: str
    headers: dict[str, str]
    count_spans: Callable[[], int]
    pid: int
    database_cpu: Callable[[], float] = field(default=_no_database)


def _clean_env() -> dict[str, str]:
    """The caller's environment without anything that would steer Phoenix or its python."""
    drop = ("PHOENIX_", "OTEL_", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def _server_env(workdir: Path, port: int, grpc_port: int) -> dict[str, str]:
    env = _clean_env()
    env.update(
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(grpc_port),  # OTLP/gRPC always listens (on [::]); keep it apart
        PHOENIX_WORKING_DIR=str(workdir),  # default DB: sqlite:///{workdir}/phoenix.db
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
        PHOENIX_DISABLE_AGENT_ASSISTANT="true",
        PHOENIX_ENABLE_MCP_SERVER="false",
        PHOENIX_ENABLE_PROMETHEUS="false",
        DO_NOT_TRACK="1",
        TMPDIR=str(workdir / "tmp"),  # Phoenix writes pid files under $TMPDIR/.arize-phoenix
        PYTHONUNBUFFERED="1",
    )
    return env


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _http_ok(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    try:
        with opener.open(url, timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _span_counter(db_path: Path) -> Callable[[], int]:
    uri = db_path.as_uri() + "?mode=ro"

    def count_spans() -> int:
        """Spans stored in Phoenix's SQLite database right now."""
        last: sqlite3.OperationalError | None = None
        for attempt in range(50):
            try:
                with closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
                    return int(conn.execute("SELECT count(*) FROM spans").fetchone()[0])
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                last = e
                time.sleep(min(0.01 * 2**attempt, 0.5))
        raise RuntimeError(f"Phoenix database stayed locked: {db_path}") from last

    return count_spans


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGINT, _STOP_TIMEOUT_S), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    with suppress(ProcessLookupError):  # anything left in the group (Phoenix forks none)
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextmanager
def phoenix_server(workdir: Path) -> Iterator[Peer]:
    """Start Phoenix with its working dir (and SQLite db) in workdir on a free 127.0.0.1 port,
    all telemetry off, wait until healthy, yield the Peer, stop it (process group) afterwards."""
    python = ensure_venv()
    workdir = Path(workdir).resolve()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    port, grpc_port = free_port(), free_port()
    while grpc_port == port:
        grpc_port = free_port()
    log_path = workdir / "phoenix.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(python), "-m", "phoenix.server.main", "serve"],
            cwd=workdir,
            env=_server_env(workdir, port, grpc_port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, stopped as a whole
        )
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _http_ok(f"{base}/healthz"):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"Phoenix exited with code {proc.returncode} before becoming healthy; "
                    f"tail of {log_path}:\n{_log_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Phoenix not healthy at {base}/healthz after {_START_TIMEOUT_S:.0f} s; "
                    f"tail of {log_path}:\n{_log_tail(log_path)}"
                )
            time.sleep(0.2)
        yield Peer(
            name=f"Arize Phoenix {PHOENIX_VERSION} (SQLite)",
            traces_url=f"{base}/v1/traces",
            headers={},
            count_spans=_span_counter(workdir / "phoenix.db"),
            pid=proc.pid,
        )
    finally:
        _stop(proc)
