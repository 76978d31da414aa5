"""Settings precedence and the telemetry switches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vigil._telemetry import TELEMETRY_OFF, disable_telemetry
from vigil.settings import load_settings


def test_precedence_flag_over_env_over_dotenv_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIGIL_UI_PORT", raising=False)
    monkeypatch.delenv("VIGIL_PREFECT_PORT", raising=False)
    assert load_settings().ui_port == 8501
    (tmp_path / ".env").write_text("VIGIL_UI_PORT=9001\nVIGIL_PREFECT_PORT=9002\n")
    assert load_settings().ui_port == 9001
    monkeypatch.setenv("VIGIL_UI_PORT", "9003")
    settings = load_settings()
    assert settings.ui_port == 9003 and settings.prefect_port == 9002
    assert load_settings(ui_port=9004).ui_port == 9004


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("VIGIL_HOME", "VIGIL_DATABASE_URL", "VIGIL_PREFECT_API_URL"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.home_dir == tmp_path / ".vigil"
    assert s.uses_embedded_db
    assert s.prefect_api == "http://127.0.0.1:4200/api"


def test_telemetry_switches_are_set_without_overriding_the_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in TELEMETRY_OFF:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # a user's explicit choice is kept
    disable_telemetry()
    assert os.environ["DO_NOT_TRACK"] == "1"
    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert os.environ["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"
    assert os.environ["HF_HUB_OFFLINE"] == "0"
