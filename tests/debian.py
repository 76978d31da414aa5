"""Debian packages a test needs (Chromium, PgBouncer): installed with apt-get when missing,
as root; without root, the test is skipped with the command to run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

INSTALL_TIMEOUT_S = 900


def ensure_package(package: str, binary: Path) -> Path:
    """``binary``, installing Debian's ``package`` first when it is missing."""
    if binary.exists():
        return binary
    if os.geteuid() != 0:
        pytest.skip(
            f"{binary} is missing and installing it needs root: run "
            f"`sudo apt-get install -y --no-install-recommends {package}`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", package],
    ):
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            pytest.fail(f"installing {package} failed: `{' '.join(command)}`: {err}")
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()[-2000:]
            pytest.fail(
                f"installing {package} failed: `{' '.join(command)}` exited {done.returncode}:\n"
                f"{output}"
            )
    if not binary.exists():
        pytest.fail(f"`apt-get install {package}` succeeded but {binary} is still missing")
    return binary
