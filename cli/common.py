"""Options and helpers shared by commands."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from vigil.db import connect, database_url, migrate
from vigil.db.types import Conn
from vigil.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"]


def date_option(name: str, help: str, required: bool = False) -> Callable[[F], F]:
    """A ``--start``/``--end`` option, read in DATE_FORMATS (:func:`utc` makes it UTC)."""
    if required:  # no default at all: click 8.3+ takes an explicit None as given
        return click.option(name, type=click.DateTime(DATE_FORMATS), required=True, help=help)
    return click.option(name, type=click.DateTime(DATE_FORMATS), default=None, help=help)


def utc(ts: datetime) -> datetime:
    """A date option's value in UTC (UTC unless it carries an offset)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def settings_options(func: F) -> F:
    """--home and --database-url, which every command that touches data accepts."""
    func = click.option(
        "--database-url",
        "db_url",
        envvar="VIGIL_DATABASE_URL",
        default=None,
        help="PostgreSQL URL with pgvector [env VIGIL_DATABASE_URL; default: embedded server].",
    )(func)
    func = click.option(
        "--home",
        envvar="VIGIL_HOME",
        default=None,
        type=click.Path(file_okay=False),
        help="Folder for the embedded database, logs and pids [env VIGIL_HOME; default ./.vigil].",
    )(func)
    return func


def settings_from(home: str | None, db_url: str | None, **more: Any) -> Settings:
    """Settings with the common flags applied over env vars, .env and defaults.

    The flags are exported as VIGIL_HOME / VIGIL_DATABASE_URL too, so that flows run in this
    process (``--local``) and the services it starts see the same home and database.
    """
    settings = load_settings(home=home, database_url=db_url, **more)
    os.environ["VIGIL_HOME"] = str(settings.home_dir)
    if settings.database_url:
        os.environ["VIGIL_DATABASE_URL"] = settings.database_url
    return settings


def open_db(home: str | None, db_url: str | None) -> Conn:
    """An autocommit connection to the migrated database (the embedded one starts if needed)."""
    conn = connect(database_url(settings_from(home, db_url), start=True), autocommit=True)
    migrate(conn)
    return conn
