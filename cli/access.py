"""What ``vigil up`` and ``vigil demo`` check and say about sign-in (docs/access.md)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cli import orchestration
from vigil import auth
from vigil.db import connect
from vigil.errors import VigilError
from vigil.settings import Settings
from vigil.store import users

FIRST_USER = "vigil users add NAME --role admin"
DEMO_USER = "demo"


def oidc_configured() -> bool:
    """Whether the app (started from this folder) signs people in through an identity
    provider: an ``[auth]`` section in Streamlit's secrets.toml."""
    return auth.oidc_configured(auth.streamlit_secrets_files(Path.cwd()))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_prefect_auth(settings: Settings) -> None:
    """Before anything starts: binding beyond loopback needs Prefect's authentication."""
    if is_loopback(settings.host):
        return
    if orchestration.prefect_auth(settings) is None:
        raise VigilError(
            f"refusing to bind to {settings.host}: set VIGIL_PREFECT_AUTH=user:password "
            f"(Prefect's authentication) and have sign-in ready (`{FIRST_USER}`, or OIDC in "
            ".streamlit/secrets.toml), or bind to 127.0.0.1"
        )


def check_sign_in(settings: Settings, url: str) -> None:
    """Once the database is up: binding beyond loopback needs a way to sign in."""
    if is_loopback(settings.host) or oidc_configured():
        return
    with connect(url, autocommit=True) as conn:
        if users.count_users(conn) > 0:
            return
    raise VigilError(
        f"refusing to bind to {settings.host}: create a user first (`{FIRST_USER}`) or "
        "configure OIDC in .streamlit/secrets.toml ([auth]), or bind to 127.0.0.1"
    )


def first_user_hint(url: str) -> str | None:
    """How to create the first user, when nobody could sign in yet."""
    if oidc_configured():
        return None
    with connect(url, autocommit=True) as conn:
        if users.count_users(conn) > 0:
            return None
    return f"Nobody can sign in yet: create the first user with `{FIRST_USER}`."


def demo_user(url: str, app: str) -> str:
    """The ``demo`` user, a reviewer granted the demo app, with a new random password
    (returned, to print; a user of that name from an earlier demo gets a new one)."""
    password = auth.new_password()
    hashed = auth.hash_password(password)
    with connect(url, autocommit=True) as conn, conn.transaction():
        try:
            existing = users.get_user(conn, DEMO_USER)
        except VigilError:
            users.add_user(conn, DEMO_USER, "reviewer", by="vigil demo", password_hash=hashed)
        else:
            users.set_password(conn, DEMO_USER, hashed, by="vigil demo")
            if existing.disabled:
                users.set_disabled(conn, DEMO_USER, False, by="vigil demo")
        users.grant(conn, DEMO_USER, app, by="vigil demo")
    return password
