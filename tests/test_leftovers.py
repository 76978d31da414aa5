"""The end-of-session check finds a server a test left running, and nothing once stopped."""

from __future__ import annotations

import subprocess
import sys

from tests import leftovers


def test_a_server_left_running_is_found_until_it_is_stopped() -> None:
    before = leftovers.servers()
    # A stand-in whose command line reads like `streamlit run`: it only sleeps.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "streamlit", "run", "x.py"]
    )
    try:
        found = leftovers.leftovers(before, marks=[], grace_s=0)
        assert [p.pid for p in found] == [proc.pid]
        assert "streamlit run" in found[0].cmdline
    finally:
        proc.kill()
        proc.wait()
    assert leftovers.leftovers(before, marks=[], grace_s=0) == []


def test_only_the_servers_are_matched() -> None:
    assert leftovers.is_server("/x/pginstall/bin/postgres -D /tmp/pytest-1/data")
    assert leftovers.is_server("python -m prefect server start --host 127.0.0.1")
    assert leftovers.is_server("python -m cli.main serve-otlp")
    assert not leftovers.is_server("python -m pytest tests")
    assert not leftovers.is_server("postgres: vigil vigil_test 127.0.0.1 idle")
