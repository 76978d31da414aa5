"""``vigil alerts``: check the destinations file, send a test message, read the delivery log."""

from __future__ import annotations

import uuid
from pathlib import Path

import click

from cli.common import open_db, settings_from, settings_options
from flows.alert_delivery import deliver
from vigil.alerts import Alert, AlertsFile, Attempt, load_alerts
from vigil.alerts.config import PagerDuty
from vigil.errors import VigilError
from vigil.store import alerts as store


@click.group()
def alerts() -> None:
    """Alert destinations: a generic JSON webhook, a Slack incoming webhook, PagerDuty
    Events API v2, listed in a YAML file (VIGIL_ALERTS_FILE; infra/alerts.example.yaml,
    docs/alerts.md).

    Regressions, SLO burns and worse canaries page once (an update is not a new page) and
    resolve by themselves. Every attempt is logged: `vigil alerts log`.
    """


def _config(path: str | None, settings_file: Path | None) -> tuple[Path, AlertsFile]:
    chosen = Path(path) if path else settings_file
    if chosen is None:
        raise VigilError("no alerts file: pass --file FILE or set VIGIL_ALERTS_FILE "
                         "(infra/alerts.example.yaml is an example)")  # fmt: skip
    return chosen, load_alerts(chosen)


FILE = click.option("--file", "path", default=None, help="The alerts file [env VIGIL_ALERTS_FILE].")


@alerts.command()
@FILE
def check(path: str | None) -> None:
    """Validate the alerts file (and that every ${VAR} it names is set); sends nothing."""
    chosen, config = _config(path, settings_from(None, None).alerts_file)
    for d in config.destinations:
        apps = ", ".join(d.apps) or "every app"
        click.echo(f"{d.name}: {d.type}, {', '.join(d.events)} of {apps}, "
                   f"severity >= {d.min_severity}")  # fmt: skip
    click.echo(f"{chosen}: {len(config.destinations)} destination(s), valid")


@alerts.command()
@click.argument("destination")
@FILE
@settings_options
def test(destination: str, path: str | None, home: str | None, db_url: str | None) -> None:
    """Send a test message to DESTINATION, through the same queue, retries and log as real
    alerts. On PagerDuty it is a trigger followed by its resolve, so no incident stays
    open. Exits 1 if the destination did not accept it."""
    settings = settings_from(home, db_url)
    chosen, config = _config(path, settings.alerts_file)
    dest = config.get(destination)
    key = f"vigil-test-{uuid.uuid4().hex[:12]}"
    alert = Alert(kind="test", key=key, severity="info", app="vigil",
                  title=f"Test alert from Vigil to {dest.name} ({dest.type})",
                  details={"file": str(chosen)},
                  links={"vigil": settings.ui_address})  # fmt: skip
    actions = [alert, alert.resolved()] if isinstance(dest, PagerDuty) else [alert]
    def show(name: str, a: Attempt) -> None:
        outcome = "ok" if a.ok else (a.error or "failed")
        click.echo(f"  attempt {a.number}: {a.status_code or '-'} {outcome} "
                   f"({a.duration_ms:.0f} ms)")  # fmt: skip

    with open_db(home, db_url) as conn:
        ids = [store.queue_test(conn, dest.name, f"test:{key}", a.model_dump()) for a in actions]
        for notice_id, a in zip(ids, actions, strict=True):
            click.echo(f"{a.action} -> {dest.name}")
            deliver(settings, config, [notice_id], on_attempt=show)
            store.give_up(conn, [notice_id], "a test message is not retried by later passes")
            row = store.notice(conn, notice_id)
            if row["status"] != "delivered":
                store.give_up(conn, ids, "its test trigger was not accepted")
                why = f"{row['last_error']} after {row['attempts']} attempt(s)"
                raise VigilError(f"{dest.name} did not accept the test {a.action}: {why}")
    click.echo(f"{dest.name}: test delivered")


@alerts.command()
@click.option("--destination", default=None, help="Only this destination's notices.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1), help="Rows.")
@settings_options
def log(destination: str | None, limit: int, home: str | None, db_url: str | None) -> None:
    """The newest alert notices: destination, what fired, trigger or resolve, final state,
    and each attempt's status code."""
    with open_db(home, db_url) as conn:
        rows = store.notices(conn, destination=destination, limit=limit)
    if not rows:
        click.echo("no alert notices yet")
    for r in rows:
        attempts = ", ".join(str(a["status_code"] or a["error"] or "-")
                             for a in r["attempt_log"] or [])  # fmt: skip
        line = (
            f"#{r['id']} {r['created_at']:%Y-%m-%d %H:%M:%S} {r['destination']} "
            f"{r['action']} {r['source_key']} (episode {r['episode']}): {r['status']}"
        )
        if attempts:
            line += f" [{attempts}]"
        if r["status"] == "failed":
            line += f" {r['last_error']}"
        click.echo(line)
