"""The end-to-end fixtures: Debian's Chromium (installed when missing), driven by Playwright
for Python, and the app served by a real Streamlit server on the test database.

Playwright never downloads a browser here (`playwright install` is never run): it launches
/usr/bin/chromium through ``executable_path``, with the flags a closed network needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

from tests.conftest import free_port
from tests.debian import ensure_package

CHROMIUM = Path("/usr/bin/chromium")
APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
# Without the background-networking flags Chromium keeps dialling Google's hosts at start,
# which a closed network (CI's, say) refuses, many connections at a time.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # the app is on loopback
]
STARTUP_TIMEOUT_S = 60


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when it is missing (as root)."""
    return ensure_package("chromium", CHROMIUM)


@pytest.fixture
def browser(chromium: Path, tmp_path: Path) -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh, empty profile, closed after the test."""
    profile = tmp_path / "chromium-profile"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def streamlit_url(db_url: str, vigil_home: Path, tmp_path: Path) -> Iterator[str]:
    """The app served by ``streamlit run`` on a free port, on the test database; stopped
    (terminate, then kill) after the test. Its output is in ``streamlit.log``."""
    port = free_port()
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_HOME": str(vigil_home)}
    workdir = tmp_path / "streamlit-cwd"  # no .streamlit/secrets.toml here: password sign-in
    workdir.mkdir()
    log = tmp_path / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(server, f"{url}/_stcore/health", log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


def _wait_healthy(server: subprocess.Popen[bytes], health: str, log: Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"Streamlit exited with {server.returncode}:\n{_tail(log)}")
        try:
            with opener.open(health, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"Streamlit did not answer {health} within {STARTUP_TIMEOUT_S}s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no output)"
