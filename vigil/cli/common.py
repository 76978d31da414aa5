"""Options and helpers shared by commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from vigil.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


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
    """Settings with the common flags applied over env vars, .env and defaults."""
    return load_settings(home=home, database_url=db_url, **more)
