"""``vigil segments``: the keys traces are sliced by (see :mod:`vigil.ingest.segments`)."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from cli.common import date_option, open_db, settings_options, utc
from vigil.errors import VigilError
from vigil.ingest.segments import RebuildProgress, rebuild_segments, validate_keys
from vigil.store import segments as store


@click.group()
def segments() -> None:
    """The keys each trace is sliced by (its segment), per app.

    \b
    The OTLP receiver reads them from what apps already send: OpenInference `metadata`
    (flat values), `tag.tags` (tag.<tag>=true), the resource's service.version and
    deployment.environment, model parameters (param.temperature, param.max_tokens,
    param.top_p), llm.prompt_template.version, and vigil.segment.<key>. `set` adds any
    other span attribute for one app; `rebuild` applies the rules to stored traces.
    """


@segments.command("set")
@click.option("--app", required=True, help="The application whose traces get the keys.")
@click.option(
    "--keys",
    required=True,
    help="Comma-separated span attribute keys to promote, e.g. app.route,tenant "
    "(letters, digits and . _ -, at most 64 characters each). Replaces the app's list.",
)
@settings_options
def set_cmd(app: str, keys: str, home: str | None, db_url: str | None) -> None:
    """Promote span attributes to segment keys for APP's traces.

    Receivers apply them within VIGIL_OTLP_KEY_CACHE_S seconds; traces stored before are
    updated by `vigil segments rebuild --app APP`.
    """
    if not app.strip():
        raise VigilError("--app is empty: name the application, e.g. --app support-bot")
    names = validate_keys([k for k in keys.split(",") if k.strip()])
    with open_db(home, db_url) as conn:
        record = store.set_keys(conn, app.strip(), names)
    click.echo(f"{record.app}: segment keys {', '.join(record.keys)}")
    click.echo(f"traces received from now on get them; for stored ones run "
               f"`vigil segments rebuild --app {record.app}`", err=True)  # fmt: skip


@segments.command()
@click.option("--app", default=None, help="Only this app.")
@settings_options
def show(app: str | None, home: str | None, db_url: str | None) -> None:
    """List each app's promoted segment keys."""
    with open_db(home, db_url) as conn:
        rows = store.list_keys(conn, app)
    if not rows:
        who = f"{app} has no" if app else "no app has"
        click.echo(f"{who} promoted segment keys; add some with "
                   "`vigil segments set --app A --keys K1,K2`")  # fmt: skip
    for row in rows:
        click.echo(f"{row.app}: {', '.join(row.keys)}  (set {row.updated_at:%Y-%m-%d %H:%M})")


@segments.command()
@click.option("--app", required=True, help="The application whose promoted keys to forget.")
@settings_options
def reset(app: str, home: str | None, db_url: str | None) -> None:
    """Forget APP's promoted keys (the keys read from standard attributes stay)."""
    with open_db(home, db_url) as conn:
        found = store.reset_keys(conn, app)
    click.echo(f"{app}: promoted segment keys removed" if found else f"{app} had none")


@segments.command()
@click.option("--app", default=None, help="Only this application's traces.")
@date_option("--start", "Traces started at or after this instant (UTC), e.g. 2026-11-01.")
@date_option("--end", "Traces started before this instant (UTC), e.g. 2026-11-08.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=300, show_default=True,
              help="Traces per transaction.")  # fmt: skip
@settings_options
def rebuild(app: str | None, start: datetime | None, end: datetime | None, batch_size: int,
            home: str | None, db_url: str | None) -> None:  # fmt: skip
    """Recompute the segment, session and user of stored traces from their spans.

    Uses each app's promoted keys as they are now. Traces stored without spans (JSONL
    imports) keep the segment they came with. Safe to re-run: a second
    rebuild changes nothing.
    """
    since, until = (utc(start) if start else None), (utc(end) if end else None)
    if since and until and since >= until:
        raise VigilError(f"--start {since:%Y-%m-%d %H:%M} is not before --end "
                         f"{until:%Y-%m-%d %H:%M}: give a start before the end")  # fmt: skip
    with open_db(home, db_url) as conn:
        done = rebuild_segments(conn, app=app, start=since, end=until,
                                batch_size=batch_size, progress=_progress)  # fmt: skip
    if done.checked and sys.stderr.isatty():
        click.echo(err=True)
    click.echo(f"segments rebuilt: {done.checked} traces checked, {done.changed} changed")


def _progress(done: RebuildProgress) -> None:
    line = f"segments: {done.checked}/{done.total} traces, {done.changed} changed"
    if sys.stderr.isatty():
        click.echo(f"\r{line}", nl=False, err=True)
    else:
        click.echo(line, err=True)
