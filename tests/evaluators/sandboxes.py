"""What the sandbox tests share: finding sandbox processes left behind, recognised by their
working directory or HOME."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from evaluators import sandbox


def left_running(folder: Path, grace_s: float = 3.0) -> list[str]:
    """Processes whose working directory or HOME is a sandbox folder under ``folder``
    (the kernel may take a moment to tear a killed PID namespace down)."""
    deadline = time.monotonic() + grace_s
    while True:
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                if sandbox.PROCESS_MARKER not in " ".join(proc.info["cmdline"] or []):
                    continue
                places = [proc.cwd(), proc.environ().get("HOME", "")]
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            if any(place.startswith(str(folder)) for place in places):
                found.append(f"{proc.info['pid']}: {places}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
