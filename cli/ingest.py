"""``vigil ingest``: import traces from JSONL files."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import settings_from, settings_options
from vigil.db import connect, database_url, migrate
from vigil.ingest.jsonl import IngestReport, ingest_file
from vigil.ingest.text import text_filter

MAX_ERRORS_SHOWN = 20


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@settings_options
def ingest(files: tuple[Path, ...], home: str | None, db_url: str | None) -> None:
    """Import traces from JSONL FILES (format: docs/trace-format.md).

    Good lines are stored, bad lines are reported with their line numbers; fix them and
    run again: traces already stored are not duplicated. Exits 1 if any line was bad.
    """
    settings = settings_from(home, db_url)
    url = database_url(settings, start=True)
    bad = 0
    with connect(url, autocommit=True) as conn:
        migrate(conn)
        for path in files:

            def show(report: IngestReport, path: Path = path) -> None:
                click.echo(
                    f"\r{path}: {report.stored} stored, {len(report.errors)} bad lines",
                    nl=False,
                    err=True,
                )

            safe = text_filter(settings.max_value_chars, settings.redact_pii)
            report = ingest_file(conn, path, safe=safe, progress=show)
            click.echo("", err=True)
            for error in report.errors[:MAX_ERRORS_SHOWN]:
                click.secho(f"{path}: {error}", fg="yellow", err=True)
            if len(report.errors) > MAX_ERRORS_SHOWN:
                click.echo(f"... and {len(report.errors) - MAX_ERRORS_SHOWN} more", err=True)
            if report.refused:
                click.secho(
                    f"{path}: {len(report.refused)} traces refused (e.g. {report.refused[0]}):"
                    " they start before the traces' retention or more than a day ahead. See"
                    " `vigil retention show`, or fix the start times.",
                    fg="yellow",
                    err=True,
                )
            click.echo(
                f"{path}: stored {report.stored} traces, {report.already_present} already "
                f"present, {len(report.errors)} bad lines skipped"
            )
            bad += len(report.errors) + len(report.refused)
    if bad:
        raise SystemExit(1)
