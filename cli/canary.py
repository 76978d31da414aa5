"""``vigil canary``: start and stop watching a canary; the ``canary`` flow checks the live
ones on its schedule (VIGIL_CANARY_CRON) and alerts when one turns worse."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from cli.common import date_option, open_db, settings_from, settings_options, utc
from cli.compare import parse_segment
from flows.alert_delivery import deliver
from flows.alerting import destinations
from flows.canaries import check_canaries, segment_text
from vigil.store import canaries


@click.group()
def canary() -> None:
    """Canaries: a slice of traffic on a new prompt, model or route, compared with its
    control by the scheduled `canary` flow (the same tests as `vigil compare`), which
    pages once when it turns worse and resolves when it no longer is or is stopped."""


@canary.command()
@click.option("--app", required=True, help="The application.")
@click.option("--segment", "segment", required=True, help="The canary, KEY=VALUE.")
@click.option("--against", "against", required=True, help="Its control, KEY=VALUE.")
@click.option("--by", required=True, help="Who starts it (kept with the canary).")
@date_option("--since", "When the canary went live (default now); checks compare from then.")
@settings_options
def start(app: str, segment: str, against: str, by: str, since: datetime | None,
          home: str | None, db_url: str | None) -> None:  # fmt: skip
    """Watch a canary (starting a live one again changes nothing). Each check compares it
    with its control from --since, or over its last day once it is older."""
    a, b = parse_segment(segment, "--segment"), parse_segment(against, "--against")
    with open_db(home, db_url) as conn:
        row = canaries.start(conn, app, a, b, by, utc(since) if since else None)
    click.echo(f"canary #{row['id']}: {app} {segment_text(a)} against {segment_text(b)}, "
               f"live since {row['started_at']:%Y-%m-%d %H:%M} UTC")  # fmt: skip


@canary.command()
@click.argument("canary_id", type=int)
@settings_options
def stop(canary_id: int, home: str | None, db_url: str | None) -> None:
    """Stop watching canary CANARY_ID; its alert, if firing, resolves on the next check."""
    with open_db(home, db_url) as conn:
        row = canaries.stop(conn, canary_id)
    click.echo(f"canary #{row['id']} stopped at {row['stopped_at']:%Y-%m-%d %H:%M} UTC")


@canary.command(name="list")
@settings_options
def list_(home: str | None, db_url: str | None) -> None:
    """Live canaries first, with their last verdict."""
    with open_db(home, db_url) as conn:
        rows = canaries.listing(conn)
    if not rows:
        click.echo("no canaries; `vigil canary start` watches one")
    for r in rows:
        state = "live" if r["stopped_at"] is None else f"stopped {r['stopped_at']:%Y-%m-%d %H:%M}"
        checked = f"{r['last_verdict']} at {r['last_checked']:%Y-%m-%d %H:%M}" \
            if r["last_checked"] else "not checked yet"  # fmt: skip
        pair = f"{segment_text(r['segment'])} against {segment_text(r['against'])}"
        click.echo(f"#{r['id']} {r['app']} {pair} ({state}, by {r['started_by']}): {checked}")


@canary.command()
@click.option("--app", default=None, help="Only this application's canaries.")
@settings_options
def check(app: str | None, home: str | None, db_url: str | None) -> None:
    """Check the live canaries now, in this process: what one run of the `canary` flow
    does, alerts and their delivery included."""
    settings = settings_from(home, db_url)
    open_db(home, db_url).close()  # the embedded server up and migrated
    verdicts = check_canaries(settings, datetime.now(UTC), app)
    if not verdicts:
        click.echo("no live canaries")
    for cid, verdict in verdicts.items():
        click.echo(f"canary #{cid}: {verdict}")
    config = destinations(settings)
    if config is not None:
        click.echo(f"alerts: {deliver(settings, config).line()}")
