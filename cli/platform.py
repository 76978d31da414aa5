"""``vigil up``, ``vigil down`` and ``vigil demo``."""

from __future__ import annotations

import signal
from datetime import UTC, datetime

import click

from cli import access
from cli.common import settings_from, settings_options
from cli.supervisor import services, stack
from vigil.db import connect, database_url, embedded_server, migrate
from vigil.errors import VigilError
from vigil.settings import Settings
from vigil.store import partitions

DB_MARKER = "db.started-by-up"


def start_database(settings: Settings) -> str:
    """Start (if embedded) and migrate the database; remember if we started it, for down."""
    if settings.uses_embedded_db and not embedded_server(settings).status().running:
        (services.run_dir(settings) / DB_MARKER).write_text("1\n")
    url = database_url(settings, start=True)
    with connect(url, autocommit=True) as conn:
        migrate(conn)
        partitions.ensure_ahead(conn, datetime.now(UTC))  # this week's and the next two
    return url


def start_all(settings: Settings) -> None:
    """Database, migrations, Prefect server, the deployments' runner, the UI."""
    access.check_prefect_auth(settings)  # before anything starts
    url = start_database(settings)
    click.echo(f"database ready: {url}")
    access.check_sign_in(settings, url)
    for make in stack.SERVICES:
        service = make(settings)
        click.echo(
            f"starting {service.name} ... (log: {services.log_path(settings, service.name)})"
        )
        services.start(settings, service)
    click.echo("")
    for label, address in stack.urls(settings).items():
        click.echo(f"  {label:45} {address}")
    click.echo(
        f"\nevaluate-window runs on cron '{settings.schedule_cron}' (edit or pause it in "
        "the Prefect UI: Deployments)."
    )
    hint = access.first_user_hint(url)
    if hint:
        click.secho(hint, fg="yellow")


def stop_all(settings: Settings) -> None:
    stopped = [name for name in reversed(stack.SERVICE_ORDER) if services.stop(settings, name)]
    for name in stopped:
        click.echo(f"stopped {name}")
    marker = services.run_dir(settings) / DB_MARKER
    if marker.exists():
        embedded_server(settings).stop()
        marker.unlink()
        click.echo("stopped PostgreSQL")
    elif not stopped:
        click.echo(f"nothing was running from {settings.home_dir}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_until_interrupted(settings: Settings) -> None:
    click.echo("\nPress Ctrl-C to stop everything.")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops like Ctrl-C
    try:
        gone = services.wait_any_exit(settings, list(stack.SERVICE_ORDER))
        click.secho(
            f"{gone} exited; see {services.log_path(settings, gone)}. Stopping.", fg="red", err=True
        )
    except KeyboardInterrupt:
        click.echo("\nstopping ...")
    finally:
        stop_all(settings)


@click.command()
@click.option("--detach", is_flag=True, help="Return once started; stop later with `vigil down`.")
@click.option(
    "--host",
    default=None,
    help="Address every service binds to [env VIGIL_HOST; default 127.0.0.1]. Any address "
    "but loopback needs sign-in (a user, or OIDC) and VIGIL_PREFECT_AUTH (docs/access.md).",
)
@settings_options
def up(detach: bool, host: str | None, home: str | None, db_url: str | None) -> None:
    """Start Vigil: PostgreSQL, Prefect (server, UI, scheduled flows), the OTLP receiver, the app.

    Everything binds to 127.0.0.1 unless --host says otherwise. Ports: VIGIL_DB_PORT (54329),
    VIGIL_PREFECT_PORT (4200), VIGIL_UI_PORT (8501), VIGIL_OTLP_PORT (4318). Logs go to
    VIGIL_HOME/logs.
    """
    settings = settings_from(home, db_url, host=host)
    access.check_prefect_auth(settings)  # refuse before the database starts
    try:
        start_all(settings)
    except BaseException:
        stop_all(settings)
        raise
    if not detach:
        serve_until_interrupted(settings)


@click.command()
@settings_options
def down(home: str | None, db_url: str | None) -> None:
    """Stop what `vigil up` started (by pid), including PostgreSQL if up started it."""
    stop_all(settings_from(home, db_url))


@click.command()
@click.option("--days", default=14, show_default=True, help="Days of traffic to simulate.")
@click.option("--per-day", default=200, show_default=True, help="Traces a day, on average.")
@click.option("--detach", is_flag=True, help="Leave the services running and return.")
@settings_options
def demo(days: int, per_day: int, detach: bool, home: str | None, db_url: str | None) -> None:
    """Build a demo world, start Vigil, and backfill it so a regression shows up.

    Orrin Labs' assistant answers questions over 36 product documents (stored in PGVector).
    On day 11 of 14 a new prompt version, v2, ships to half the traffic and starts stating
    facts that are not in the retrieved context. The backfill runs through the Prefect
    deployment; groundedness drops and the regression appears in the app.
    """
    from cli.demo.traffic import DemoPlan
    from cli.demo.world import build_world
    from vigil.embeddings import load_embeddings

    if days < 9:
        raise VigilError("--days must be at least 9: the detector compares with the 7 days before.")
    settings = settings_from(home, db_url)
    access.check_prefect_auth(settings)
    url = start_database(settings)
    plan = DemoPlan(end=datetime.now(UTC), days=days, per_day=per_day, regression_day=days - 4)
    click.echo("loading the embedding model ...")
    summary = build_world(
        url,
        settings.kb_collection,
        plan,
        load_embeddings(settings.embedding_model),
        progress=click.echo,
    )
    click.echo(
        f"demo world: {summary.documents} documents, {summary.traces_inserted} new traces "
        f"({summary.traces_already_present} already stored); v2 ships on "
        f"{plan.regression_start:%Y-%m-%d}"
    )
    password = access.demo_user(url, plan.app)
    try:
        start_all(settings)
        from cli.backfill import run_backfill

        click.echo("\nbackfilling the demo days through the Prefect `backfill` deployment ...")
        params = {
            "start": plan.start.isoformat(),
            "end": plan.end.isoformat(),
            "app": plan.app,
            "evaluators": None,
        }
        click.echo(run_backfill(settings, url, params, local=False, days=days))
    except BaseException:
        stop_all(settings)
        raise
    _print_findings(url, settings)
    click.secho(
        f"\nSign in as `{access.DEMO_USER}` (a reviewer of {plan.app}) with password: {password}",
        bold=True,
    )
    if not detach:
        serve_until_interrupted(settings)


def _print_findings(url: str, settings: Settings) -> None:
    from vigil.store.regressions import list_regressions

    with connect(url, autocommit=True) as conn:
        found = list_regressions(conn, status=None, limit=10)
    if not found:
        click.secho("no regression found (unexpected for the demo)", fg="yellow")
        return
    click.secho("\nregressions found:", bold=True)
    for r in found:
        click.echo(
            f"  #{r['id']} {r['app']} {r['first_seen']:%Y-%m-%d}: {r['headline']}; "
            f"{r['pending_reviews']} traces to review"
        )
    click.echo("`vigil regressions show ID` prints one with its evidence.")
    click.echo(
        f"\nOpen http://{settings.host}:{settings.ui_port} (Regressions, Review queue) and "
        f"http://{settings.host}:{settings.prefect_port} (runs, the schedule)."
    )
