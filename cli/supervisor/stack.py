"""The services of a Vigil installation and how they are configured (used by up/down)."""

from __future__ import annotations

from pathlib import Path

from cli import orchestration
from cli.supervisor import services
from cli.supervisor.services import Service
from vigil.db import prefect_database_url
from vigil.settings import Settings

SERVICE_ORDER = ("prefect", "worker", "otlp", "metrics", "ui")


def prefect_env(settings: Settings) -> dict[str, str]:
    """Environment for Prefect clients: our server, our home folder, no analytics, and the
    server's basic authentication when VIGIL_PREFECT_AUTH is set."""
    home = settings.home_dir / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    auth = orchestration.prefect_auth(settings)
    return {
        "PREFECT_API_URL": settings.prefect_api,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        **({"PREFECT_API_AUTH_STRING": auth} if auth else {}),
    }


def prefect_server(settings: Settings) -> Service:
    auth = orchestration.prefect_auth(settings)
    env = {
        **prefect_env(settings),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_database_url(settings),
        "PREFECT_UI_API_URL": settings.prefect_api,
        **({"PREFECT_SERVER_API_AUTH_STRING": auth} if auth else {}),
    }
    return Service(
        "prefect",
        services.python_module(
            "prefect",
            "server",
            "start",
            "--host",
            settings.host,
            "--port",
            str(settings.prefect_port),
        ),
        env,
        ready_urls=(f"{settings.prefect_api}/health",),
    )


def worker(settings: Settings) -> Service:
    """Serves the deployments (evaluate-window on its schedule, backfill and detect on
    demand).

    Ready once every deployment is registered on the server.
    """
    names = (
        orchestration.EVALUATE_DEPLOYMENT,
        orchestration.BACKFILL_DEPLOYMENT,
        orchestration.DETECT_DEPLOYMENT,
    )
    return Service(
        "worker",
        services.python_module("flows.serve"),
        {**prefect_env(settings), **_vigil_env(settings)},
        ready_urls=tuple(f"{settings.prefect_api}/deployments/name/{n}" for n in names),
        timeout_s=180.0,
        ready_auth=orchestration.prefect_auth(settings),
    )


def otlp(settings: Settings) -> Service:
    """The OTLP/HTTP receiver."""
    return Service(
        "otlp",
        services.python_module("cli.main", "serve-otlp"),
        _vigil_env(settings),
        ready_urls=(f"http://{settings.host}:{settings.otlp_port}/health",),
    )


def metrics(settings: Settings) -> Service:
    """The Prometheus exporter (docs/metrics.md). Started through its own module, so that it
    does not depend on the ``vigil`` command's table of subcommands."""
    return Service(
        "metrics",
        services.python_module("cli.metrics", "serve"),
        _vigil_env(settings),
        ready_urls=(f"http://{settings.host}:{settings.metrics_port}/metrics",),
    )


def ui(settings: Settings) -> Service:
    app = Path(__file__).resolve().parents[2] / "ui" / "app.py"
    return Service(
        "ui",
        services.python_module(
            "streamlit",
            "run",
            str(app),
            "--server.address",
            settings.host,
            "--server.port",
            str(settings.ui_port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "minimal",
        ),
        _vigil_env(settings),
        ready_urls=(f"http://{settings.host}:{settings.ui_port}/_stcore/health",),
    )


SERVICES = (prefect_server, worker, otlp, metrics, ui)  # started in this order (SERVICE_ORDER)


def _vigil_env(settings: Settings) -> dict[str, str]:
    """Pin the children to the same database and home as this process."""
    from vigil.db import database_url

    return {
        "VIGIL_HOME": str(settings.home_dir),
        "VIGIL_DATABASE_URL": database_url(settings, start=True),
    }


def urls(settings: Settings) -> dict[str, str]:
    return {
        "Streamlit app (regressions, review queue)": f"http://{settings.host}:{settings.ui_port}",
        "Prefect UI (schedules, runs)": f"http://{settings.host}:{settings.prefect_port}",
        "OTLP/HTTP receiver (traces)": f"http://{settings.host}:{settings.otlp_port}/v1/traces",
        "Prometheus metrics": f"http://{settings.host}:{settings.metrics_port}/metrics",
        "PostgreSQL": _redacted_db(settings),
    }


def _redacted_db(settings: Settings) -> str:
    from vigil.db import database_url
    from vigil.db.connection import redact_url

    return redact_url(database_url(settings, start=False))
