"""``vigil db``: the embedded PostgreSQL server and migrations."""

from __future__ import annotations

import click

from cli.common import settings_from, settings_options
from vigil.db import connect, database_url, embedded_server, migrate
from vigil.errors import VigilError


@click.group()
def db() -> None:
    """Manage the embedded PostgreSQL 18 + pgvector server and the schema.

    The server runs detached: it keeps running after this command exits, until
    `vigil db stop` (or `vigil down` when `vigil up` started it).
    """


@db.command()
@settings_options
def start(home: str | None, db_url: str | None) -> None:
    """Start the embedded server (idempotent) and apply migrations."""
    settings = settings_from(home, db_url)
    _require_embedded(settings.database_url)
    url = database_url(settings, start=True)
    applied = _migrate(url)
    status = embedded_server(settings).status()
    click.echo(f"PostgreSQL running (pid {status.pid}) at {url}")
    click.echo(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")


@db.command()
@settings_options
def stop(home: str | None, db_url: str | None) -> None:
    """Stop the embedded server (fast shutdown: open transactions roll back)."""
    settings = settings_from(home, db_url)
    _require_embedded(settings.database_url)
    stopped = embedded_server(settings).stop()
    click.echo("PostgreSQL stopped" if stopped else "PostgreSQL was not running")


@db.command()
@settings_options
def status(home: str | None, db_url: str | None) -> None:
    """Say whether the embedded server runs, and where."""
    settings = settings_from(home, db_url)
    if settings.database_url:
        click.echo(f"external database: {settings.database_url}")
        return
    server = embedded_server(settings)
    st = server.status()
    if st.running:
        click.echo(f"running: pid {st.pid}, {server.host}:{st.port}, socket in {st.socket_dir}")
    else:
        click.echo(f"stopped (data in {st.pgdata}); start it with `vigil db start`")
        raise SystemExit(3)


@db.command()
@settings_options
def url(home: str | None, db_url: str | None) -> None:
    """Print the database URL (for psql or VIGIL_DATABASE_URL elsewhere)."""
    settings = settings_from(home, db_url)
    click.echo(database_url(settings, start=False))


@db.command("migrate")
@settings_options
def migrate_cmd(home: str | None, db_url: str | None) -> None:
    """Apply pending migrations (starts the embedded server if needed)."""
    settings = settings_from(home, db_url)
    applied = _migrate(database_url(settings, start=True))
    click.echo(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")


def _migrate(url: str) -> list[str]:
    with connect(url, autocommit=True) as conn:
        return migrate(conn)


def _require_embedded(external: str | None) -> None:
    if external:
        raise VigilError(
            "VIGIL_DATABASE_URL points at an external database; `vigil db start/stop` only "
            "manage the embedded server. Unset it to use the embedded one."
        )
