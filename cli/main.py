"""Entry point: ``vigil``. Domain errors become one clear line and exit code 1."""

from __future__ import annotations

import sys

import click

import vigil
from cli import (
    alerts,
    backfill,
    canary,
    compare,
    database,
    datasets,
    deploy,
    gate,
    ingest,
    keys,
    metrics,
    otlp,
    platform,
    regressions,
    retention,
    runs,
    sampling,
    segments,
    slo,
    users,
)
from vigil.errors import VigilError

EPILOG = """
Settings come from flags, then VIGIL_* environment variables, then a .env file, then
defaults (see README, "Configuration"). The database is an embedded PostgreSQL under
VIGIL_HOME (default ./.vigil) unless VIGIL_DATABASE_URL names another one.
"""


@click.group(epilog=EPILOG)
@click.version_option(vigil.__version__, prog_name="vigil")
def cli() -> None:
    """Vigil watches the quality of an LLM application's answers.

    \b
    Typical session:
      vigil demo            build a demo world, evaluate it, start everything
      vigil up              start the database, Prefect, the flows and the UI
      vigil ingest F.jsonl  import traces
      vigil backfill --start 2026-11-01 --end 2026-11-08
      vigil down            stop what `vigil up` started
    """


cli.add_command(database.db)
cli.add_command(ingest.ingest)
cli.add_command(backfill.backfill)
cli.add_command(backfill.evaluators_cmd)
cli.add_command(deploy.deploy)
cli.add_command(platform.up)
cli.add_command(platform.down)
cli.add_command(platform.demo)
cli.add_command(keys.keys)
cli.add_command(otlp.serve_otlp)
cli.add_command(otlp.prices)
cli.add_command(sampling.sampling)
cli.add_command(segments.segments)
cli.add_command(runs.runs)
cli.add_command(runs.evaluate)
cli.add_command(regressions.regressions)
cli.add_command(compare.compare)
cli.add_command(slo.slo)
cli.add_command(alerts.alerts)
cli.add_command(canary.canary)
cli.add_command(metrics.metrics)
cli.add_command(users.users)
cli.add_command(datasets.datasets)
cli.add_command(gate.gate)
cli.add_command(retention.retention_cmd)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except VigilError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
