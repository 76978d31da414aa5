"""``vigil serve-otlp``: the OTLP/HTTP receiver alone; ``vigil prices``: the price table."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import UTC, date, datetime

import click

from cli.common import settings_from, settings_options
from vigil.db import connect, database_url, migrate
from vigil.store import partitions
from vigil.store import prices as price_store


@click.command("serve-otlp")
@click.option("--port", type=int, default=None, help="Port [env VIGIL_OTLP_PORT; default 4318].")
@click.option("--workers", type=int, default=None,
              help="Worker processes [env VIGIL_OTLP_WORKERS; default 2].")  # fmt: skip
@settings_options
def serve_otlp(port: int | None, workers: int | None, home: str | None, db_url: str | None) -> None:
    """Receive OpenTelemetry traces on POST /v1/traces (OTLP/HTTP, protobuf or JSON).

    Point an exporter at it with OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://HOST:4318/v1/traces
    and OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <key>". `vigil up` starts it too.
    """
    import uvicorn

    from vigil.otlp.server import create_app

    settings = settings_from(home, db_url, otlp_port=port, otlp_workers=workers)
    url = database_url(settings, start=True)
    with connect(url, autocommit=True) as conn:
        migrate(conn)
        partitions.ensure_ahead(conn, datetime.now(UTC))  # before the first span arrives
    os.environ["VIGIL_DATABASE_URL"] = url  # the workers resolve the same database
    click.echo(f"OTLP/HTTP receiver on http://{settings.host}:{settings.otlp_port}/v1/traces"
               f" ({settings.otlp_workers} worker(s))")  # fmt: skip
    if settings.otlp_workers == 1:
        uvicorn.run(create_app(settings, url), host=settings.host, port=settings.otlp_port,
                    log_level="warning")  # fmt: skip
        return
    # uvicorn spawns the workers, and a spawned process first imports its parent's main
    # module: under `vigil`, each worker would load the whole CLI (Prefect and all: 270 MB
    # and 2.7 s of CPU) to run a receiver that needs 100 MB. This module becomes their main.
    # ("serve-otlp" stays in the command line, for `ps` and whoever looks for the receiver.)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "cli.otlp", "serve-otlp", settings.host,
                              str(settings.otlp_port), str(settings.otlp_workers)])  # fmt: skip


def _serve_workers(host: str, port: int, workers: int) -> None:
    """The receiver's uvicorn supervisor and its ``workers`` processes, each building its app
    from the environment (``VIGIL_DATABASE_URL`` is set by :func:`serve_otlp`)."""
    import uvicorn

    uvicorn.run("vigil.otlp.server:app_from_environment", factory=True, workers=workers,
                host=host, port=port, log_level="warning")  # fmt: skip


@click.group()
def prices() -> None:
    """The price table that costs traces (USD per million tokens, versioned by date)."""


@prices.command("list")
@settings_options
def list_prices(home: str | None, db_url: str | None) -> None:
    """Show every price version."""
    with connect(database_url(settings_from(home, db_url), start=True), autocommit=True) as conn:
        migrate(conn)
        rows = price_store.list_prices(conn)
    click.echo(f"{'model':24} {'from':10}  {'input $/Mtok':>12}  {'output $/Mtok':>13}")
    for p in rows:
        click.echo(f"{p.model:24} {p.effective_from:%Y-%m-%d}  {p.input_usd_per_mtok:12.3f}"
                   f"  {p.output_usd_per_mtok:13.3f}")  # fmt: skip


@prices.command("set")
@click.argument("model")
@click.option("--input", "input_price", type=float, required=True, help="USD per 1M input tokens.")
@click.option("--output", "output_price", type=float, required=True,
              help="USD per 1M output tokens.")  # fmt: skip
@click.option("--from", "effective", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day the price applies (default today).")  # fmt: skip
@settings_options
def set_price(model: str, input_price: float, output_price: float, effective: object,
              home: str | None, db_url: str | None) -> None:  # fmt: skip
    """Add a price version for MODEL (traces stored from then on are costed with it)."""
    day = effective.date() if effective is not None else date.today()  # type: ignore[attr-defined]
    price = price_store.Price(model, day, input_price, output_price)
    with connect(database_url(settings_from(home, db_url), start=True), autocommit=True) as conn:
        migrate(conn)
        price_store.set_price(conn, price, f"set by {getpass.getuser()}")
    click.echo(f"{model}: ${input_price}/Mtok in, ${output_price}/Mtok out from {day}")


if __name__ == "__main__":  # `serve_otlp` execs this with several workers
    _, _, host, port, workers = sys.argv
    _serve_workers(host, int(port), int(workers))
