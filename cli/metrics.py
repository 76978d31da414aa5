"""``vigil metrics serve`` / ``show``: Prometheus metrics for Grafana and Datadog
(docs/metrics.md). ``vigil up`` starts the exporter as ``python -m cli.metrics serve``."""

from __future__ import annotations

import signal
import sys
import threading

import click

from cli.common import settings_from, settings_options
from vigil.db import connect, database_url, migrate
from vigil.errors import VigilError
from vigil.metrics import Exporter, serve
from vigil.settings import Settings


@click.group()
def metrics() -> None:
    """Prometheus metrics: quality, cost per request, latency and errors per app and segment,
    ingest and evaluation counters, open regressions, SLO budgets (docs/metrics.md)."""


def _exporter(settings: Settings) -> Exporter:
    url = database_url(settings, start=True)
    with connect(url, autocommit=True) as conn:
        migrate(conn)
    return Exporter(url, max_segment_values=settings.metrics_max_segment_values,
                    slo_file=settings.slo_file)  # fmt: skip


@metrics.command("serve")
@click.option("--port", type=int, default=None,
              help="Port of /metrics [env VIGIL_METRICS_PORT; default 9464].")  # fmt: skip
@settings_options
def serve_cmd(port: int | None, home: str | None, db_url: str | None) -> None:
    """Serve /metrics, reading the database every VIGIL_METRICS_REFRESH_S (15 s).

    Scrape it from Prometheus, or from the Datadog Agent's OpenMetrics check. Run one
    exporter per database: each one exports the whole picture.
    """
    from prometheus_client import disable_created_metrics

    settings = settings_from(home, db_url, metrics_port=port)
    disable_created_metrics()  # no *_created series: they double the count, nothing reads them
    exporter = _exporter(settings)
    stop = serve(exporter, settings.host, settings.metrics_port, settings.metrics_refresh_s)
    click.echo(f"Prometheus metrics on http://{settings.host}:{settings.metrics_port}/metrics"
               f" (refreshed every {settings.metrics_refresh_s:g} s)")  # fmt: skip
    finished = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: finished.set())  # `vigil down` stops it
    try:
        finished.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop()


@metrics.command("show")
@settings_options
def show(home: str | None, db_url: str | None) -> None:
    """Print the metrics once, as a scrape would see them from an exporter started now: the
    totals (ingest, evaluation, regressions, SLOs) and empty per-request histograms."""
    exporter = _exporter(settings_from(home, db_url))
    exporter.refresh()
    click.echo(exporter.exposition().decode(), nl=False)


def main() -> None:
    """``python -m cli.metrics``: a domain error is one line and exit code 1."""
    try:
        metrics.main(standalone_mode=False)
    except VigilError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(1)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
