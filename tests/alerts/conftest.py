"""Alert tests: a recording HTTP receiver on 127.0.0.1 stands in for PagerDuty, Slack and a
webhook; the alerts file points each destination at a path of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.recorder import Recorder, recorder


@pytest.fixture
def rec() -> Iterator[Recorder]:
    with recorder() as r:
        yield r


def write_alerts_file(path: Path, url: str, extra: str = "") -> Path:
    path.write_text(f"""
destinations:
  - name: oncall
    type: pagerduty
    routing_key: ${{PD_KEY}}
    url: {url}/pd
  - name: channel
    type: slack
    url: {url}/slack
  - name: hook
    type: webhook
    url: {url}/hook
    headers:
      Authorization: Bearer ${{HOOK_TOKEN}}
{extra}""")
    return path


@pytest.fixture
def alerts_file(tmp_path: Path, rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three destinations on the recorder, exported as VIGIL_ALERTS_FILE; retries without
    waiting, so a test of five attempts takes no time."""
    monkeypatch.setenv("PD_KEY", "R0UTINGKEY")
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    monkeypatch.setenv("VIGIL_ALERT_BACKOFF_S", "0")
    path = write_alerts_file(tmp_path / "alerts.yaml", rec.url)
    monkeypatch.setenv("VIGIL_ALERTS_FILE", str(path))
    return path
