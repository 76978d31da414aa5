"""``vigil users``: who may sign in to the app, with which role, to which apps."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from cli.common import open_db, settings_options
from vigil import auth
from vigil.errors import VigilError
from vigil.store import users as user_store

F = TypeVar("F", bound=Callable[..., Any])


def by_option(func: F) -> F:
    return click.option(
        "--by",
        default=None,
        help="Who makes the change, recorded with it [default: your login name].",
    )(func)


def _by(by: str | None) -> str:
    return (by or getpass.getuser()).strip()


def read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a prompt (never echoed).
    :func:`vigil.auth.hash_password` checks its length."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        raise VigilError(
            "no terminal to ask for the password: pipe it with --password-stdin "
            "(or use --no-password for a user who signs in through the identity provider)"
        )
    return password


@click.group()
def users() -> None:
    """Manage who may sign in to the app: roles (viewer, reviewer, admin) and per-app grants.

    With an identity provider configured (docs/access.md), people sign in through it and
    are matched by --email; otherwise with the name and password given here.
    """


@users.command()
@click.argument("name")
@click.option("--role", type=click.Choice(auth.ROLES), required=True,
              help="viewer: reads its apps; reviewer: also labels and acknowledges; "
              "admin: every app.")  # fmt: skip
@click.option("--email", default=None, help="The email the identity provider reports (OIDC).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--no-password",
    is_flag=True,
    help="No password: signs in through the identity provider only (needs --email).",
)
@by_option
@settings_options
def add(name: str, role: str, email: str | None, password_stdin: bool, no_password: bool,
        by: str | None, home: str | None, db_url: str | None) -> None:  # fmt: skip
    """Create user NAME (asks for the password twice unless --password-stdin)."""
    if no_password and password_stdin:
        raise VigilError("--no-password and --password-stdin exclude each other")
    hashed = None if no_password else auth.hash_password(read_password(password_stdin))
    with open_db(home, db_url) as conn, conn.transaction():
        user = user_store.add_user(conn, name, role, by=_by(by), email=email, password_hash=hashed)
    hint = "" if user.role == "admin" else f"; grant apps with `vigil users grant {name} --app A`"
    click.echo(f"added {user.role} {user.name}{hint}")


@users.command("list")
@settings_options
def list_cmd(home: str | None, db_url: str | None) -> None:
    """List users: role, email, apps, sign-in, state, who created them."""
    with open_db(home, db_url) as conn:
        rows = user_store.list_users(conn)
        locked = {lock.name for lock in user_store.sign_in_locks(conn) if lock.locked_until}
    if not rows:
        click.echo("no users; create the first with `vigil users add NAME --role admin`")
        return
    click.echo(f"{'name':16} {'role':9} {'state':9} {'sign-in':9} {'email':28} {'created':22} apps")
    for u in rows:
        apps = "(every app)" if u.role == "admin" else ", ".join(sorted(u.apps)) or "(none)"
        click.echo(
            f"{u.name[:16]:16} {u.role:9} {_state(u, locked):9} "
            f"{'password' if u.has_password else 'oidc':9} {(u.email or '')[:28]:28} "
            f"{u.created_at:%Y-%m-%d} by {u.created_by[:8]:8} {apps}"
        )


def _state(user: user_store.User, locked: set[str]) -> str:
    if user.disabled:
        return "disabled"
    return "locked" if user.name in locked else "active"


@users.command()
@settings_options
def locks(home: str | None, db_url: str | None) -> None:
    """Names with failed password sign-ins in a row, and until when each is locked (a name
    that is no user's is throttled too: guesses at names show up here)."""
    with open_db(home, db_url) as conn:
        rows = user_store.sign_in_locks(conn)
    if not rows:
        click.echo("no failed sign-ins in a row")
        return
    click.echo(f"{'name':16} {'failures':>8}  {'last failure (UTC)':20} locked until (UTC)")
    for lock in rows:
        until = _utc(lock.locked_until) if lock.locked_until else "-"
        click.echo(f"{lock.name[:16]:16} {lock.failures:>8}  {_utc(lock.last_failure):20} {until}")


def _utc(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


@users.command()
@click.argument("name")
@by_option
@settings_options
def unlock(name: str, by: str | None, home: str | None, db_url: str | None) -> None:
    """Forget NAME's failed password sign-ins, so that it may sign in again at once."""
    with open_db(home, db_url) as conn, conn.transaction():
        cleared = user_store.unlock(conn, name, by=_by(by))
    click.echo(f"unlocked {name}" if cleared else f"{name} has no failed sign-ins to clear")


@users.command()
@click.argument("name")
@by_option
@settings_options
def disable(name: str, by: str | None, home: str | None, db_url: str | None) -> None:
    """Disable NAME: refused at sign-in, and signed out of the app at their next click."""
    with open_db(home, db_url) as conn, conn.transaction():
        user_store.set_disabled(conn, name, True, by=_by(by))
    click.echo(f"disabled {name}")


@users.command()
@click.argument("name")
@by_option
@settings_options
def enable(name: str, by: str | None, home: str | None, db_url: str | None) -> None:
    """Enable NAME again."""
    with open_db(home, db_url) as conn, conn.transaction():
        user_store.set_disabled(conn, name, False, by=_by(by))
    click.echo(f"enabled {name}")


@users.command()
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@by_option
@settings_options
def password(name: str, password_stdin: bool, by: str | None, home: str | None,
             db_url: str | None) -> None:  # fmt: skip
    """Set NAME's password (asks twice unless --password-stdin)."""
    hashed = auth.hash_password(read_password(password_stdin))
    with open_db(home, db_url) as conn, conn.transaction():
        user_store.set_password(conn, name, hashed, by=_by(by))
    click.echo(f"password of {name} changed")


@users.command()
@click.argument("name")
@click.argument("role", type=click.Choice(auth.ROLES))
@by_option
@settings_options
def role(name: str, role: str, by: str | None, home: str | None, db_url: str | None) -> None:
    """Give NAME another ROLE."""
    with open_db(home, db_url) as conn, conn.transaction():
        user_store.set_role(conn, name, role, by=_by(by))
    click.echo(f"{name} is now {role}")


@users.command()
@click.argument("name")
@click.option("--app", "apps", multiple=True, required=True, help="An app to grant (repeatable).")
@by_option
@settings_options
def grant(name: str, apps: tuple[str, ...], by: str | None, home: str | None,
          db_url: str | None) -> None:  # fmt: skip
    """Let NAME see (and, as a reviewer, label) the apps."""
    with open_db(home, db_url) as conn, conn.transaction():
        for app in apps:
            new = user_store.grant(conn, name, app, by=_by(by))
            click.echo(f"granted {app} to {name}" if new else f"{name} already had {app}")


@users.command()
@click.argument("name")
@click.option("--app", "apps", multiple=True, required=True, help="An app to revoke (repeatable).")
@by_option
@settings_options
def revoke(name: str, apps: tuple[str, ...], by: str | None, home: str | None,
           db_url: str | None) -> None:  # fmt: skip
    """Take the apps away from NAME (effective at their next click)."""
    with open_db(home, db_url) as conn, conn.transaction():
        for app in apps:
            gone = user_store.revoke(conn, name, app, by=_by(by))
            click.echo(f"revoked {app} from {name}" if gone else f"{name} did not have {app}")


@users.command()
@click.argument("name", required=False)
@click.option("--limit", default=50, show_default=True)
@settings_options
def log(name: str | None, limit: int, home: str | None, db_url: str | None) -> None:
    """Who changed whose access, and when (NAME's changes only, if given)."""
    with open_db(home, db_url) as conn:
        rows = user_store.access_events(conn, name, limit)
    if not rows:
        click.echo("no access changes recorded")
    for e in rows:
        what = " ".join(x for x in (e["action"], e["app"] or "", e["detail"] or "") if x)
        click.echo(f"{e['at']:%Y-%m-%d %H:%M:%S}  {e['actor']:12} {what:28} {e['subject']}")
