"""``vigil keys``: API keys for the OTLP receiver."""

from __future__ import annotations

import getpass

import click

from cli.common import open_db, settings_options
from vigil.store import keys as key_store


@click.group()
def keys() -> None:
    """Manage API keys: each key lets one app send traces to the OTLP receiver."""


@keys.command()
@click.option("--app", required=True, help="The application this key sends traces for.")
@settings_options
def create(app: str, home: str | None, db_url: str | None) -> None:
    """Create a key for APP and print it (only this once: it is stored hashed)."""
    with open_db(home, db_url) as conn:
        record, token = key_store.create_key(conn, app, getpass.getuser())
    click.echo(token)
    click.echo(f"key {record.prefix} for app {record.app!r}: send it as "
               "'Authorization: Bearer <key>' (OTEL_EXPORTER_OTLP_HEADERS)", err=True)  # fmt: skip


@keys.command("list")
@settings_options
def list_cmd(home: str | None, db_url: str | None) -> None:
    """List keys (prefix, app, who created them, revoked or not)."""
    with open_db(home, db_url) as conn:
        rows = key_store.list_keys(conn)
    if not rows:
        click.echo("no keys; create one with `vigil keys create --app NAME`")
    for k in rows:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        click.echo(f"{k.prefix}  {k.app:24} {k.created_by:12} {k.created_at:%Y-%m-%d}  {state}")


@keys.command()
@click.argument("prefix")
@settings_options
def revoke(prefix: str, home: str | None, db_url: str | None) -> None:
    """Revoke the key with PREFIX (receivers refuse it within VIGIL_OTLP_KEY_CACHE_S)."""
    with open_db(home, db_url) as conn:
        record = key_store.revoke_key(conn, prefix, getpass.getuser())
    click.echo(f"revoked key {record.prefix} of app {record.app!r}")
