"""The processes ``vigil up`` starts and ``vigil down`` stops, tracked by pid files.

Each service runs in its own process group (so its children stop with it), logs to
``home/logs/NAME.log`` and records its pid in ``home/run/NAME.pid``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from vigil.errors import VigilError
from vigil.settings import Settings

STOP_TIMEOUT_S = 15


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    env: dict[str, str]
    ready_urls: tuple[str, ...] = ()  # polled until each answers 200
    timeout_s: float = 90.0
    ready_auth: str | None = None  # 'user:password' for the ready URLs (basic auth)


def run_dir(settings: Settings) -> Path:
    path = settings.home_dir / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path(settings: Settings, name: str) -> Path:
    folder = settings.home_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.log"


def pid_of(settings: Settings, name: str) -> int | None:
    """The pid of a running service started by Vigil, or None (stale pid files are removed)."""
    pidfile = run_dir(settings) / f"{name}.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    try:
        proc = psutil.Process(pid)
        alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        alive = False
    if not alive:
        pidfile.unlink(missing_ok=True)
        return None
    return pid


def start(settings: Settings, service: Service) -> int:
    """Start a service unless it already runs; wait until it is ready. Returns its pid."""
    running = pid_of(settings, service.name)
    if running is not None:
        return running
    log = log_path(settings, service.name)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            service.command,
            env={**os.environ, **service.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (run_dir(settings) / f"{service.name}.pid").write_text(f"{proc.pid}\n")
    if service.ready_urls:
        _wait_ready(service, proc, log)
    return proc.pid


def _wait_ready(service: Service, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + service.timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise VigilError(
                f"{service.name} exited with code {proc.returncode} while starting; "
                f"see {log}:\n{_tail(log)}"
            )
        if all(http_ok(url, auth=service.ready_auth) for url in service.ready_urls):
            return
        time.sleep(0.5)
    raise VigilError(
        f"{service.name} did not answer {', '.join(service.ready_urls)} within "
        f"{service.timeout_s:.0f} s; "
        f"see {log}:\n{_tail(log)}"
    )


def http_ok(url: str, timeout: float = 2.0, auth: str | None = None) -> bool:
    """Whether ``url`` answers 200 (with basic authentication when ``auth`` is given)."""
    request = urllib.request.Request(url)
    if auth is not None:
        request.add_header("Authorization", f"Basic {base64.b64encode(auth.encode()).decode()}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop(settings: Settings, name: str) -> bool:
    """Stop a service's process group: SIGTERM, then SIGKILL after a timeout."""
    pid = pid_of(settings, name)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and pid_of(settings, name) is not None:
        time.sleep(0.2)
    if pid_of(settings, name) is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.2)
    (run_dir(settings) / f"{name}.pid").unlink(missing_ok=True)
    return True


def wait_any_exit(settings: Settings, names: list[str]) -> str:
    """Block until one of the services exits; returns its name."""
    while True:
        for name in names:
            if pid_of(settings, name) is None:
                return name
        time.sleep(1.0)


def _tail(path: Path, chars: int = 1500) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:]


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
