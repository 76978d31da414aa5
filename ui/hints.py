"""What the pages tell a user with nothing to show yet: what to do next."""

from __future__ import annotations

from vigil.settings import load_settings


def no_traces_yet() -> str:
    """Where traces come from, with this installation's receiver address."""
    settings = load_settings()
    return (
        "No traces yet: run `vigil demo`, or point an OTLP exporter at "
        f"http://{settings.host}:{settings.otlp_port}/v1/traces (see docs/otlp.md)."
    )
