"""The sign-in gate the router runs before any page (docs/access.md).

With an identity provider in ``.streamlit/secrets.toml`` (an ``[auth]`` section), people
sign in through it (``st.login``) and are matched by email to a row of the users table,
which gives their role and apps. Otherwise they sign in with a name and password from that
table (``vigil users add``). Nobody signed in sees only the sign-in form.

The session's viewer is read again from the users table on every run, so a disabled user,
a changed role or a revoked grant takes effect at the next click.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from ui.access import SESSION_KEY, Viewer, viewer_of
from ui.data import connection
from vigil.errors import VigilError
from vigil.store import users

SIGNED_IN_AS = "vigil_signed_in_as"  # the users row behind the session's viewer


def gate() -> Viewer:
    """The signed-in viewer, with a sign-out button in the sidebar. Without one, render
    only the sign-in form (or the identity provider's button) and stop the run."""
    conn = connection()  # the form needs the database: say so first if it is down
    viewer = st.session_state.get(SESSION_KEY)
    if isinstance(viewer, Viewer) and SIGNED_IN_AS in st.session_state:
        if _oidc_providers() is not None and not st.user.is_logged_in:
            _forget()  # the identity provider's session ended
            viewer = None
        else:
            viewer = _refresh(st.session_state[SIGNED_IN_AS])
    if isinstance(viewer, Viewer):
        _sidebar(viewer)
        return viewer
    if _oidc_providers() is not None:
        _oidc_sign_in()
    else:
        _password_form(users.count_users(conn) == 0)
    st.stop()
    raise AssertionError("st.stop() returned")  # for the type checker


def acting() -> Viewer | None:
    """The viewer to check and record a write with, as the users table says now, or None
    when signed out, disabled or removed. Streamlit runs a widget's callback before the
    script, so before the gate re-reads the user: a callback must not trust the viewer of
    the previous run (it may have been disabled, downgraded or lost a grant since)."""
    viewer = st.session_state.get(SESSION_KEY)
    if not isinstance(viewer, Viewer):
        return None
    if SIGNED_IN_AS not in st.session_state:
        return viewer  # a session set up by the page tests' helper, not by the sign-in form
    return _refresh(st.session_state[SIGNED_IN_AS])


def _refresh(name: str) -> Viewer | None:
    """The viewer from the user's current row; signs out a removed or disabled user."""
    try:
        user = users.get_user(connection(), name)
    except VigilError:
        user = None
    if user is None or user.disabled:
        _forget()
        st.warning("Your account was disabled or removed; you have been signed out.")
        return None
    viewer = viewer_of(user.name, user.role, user.apps)
    st.session_state[SESSION_KEY] = viewer
    return viewer


def _remember(user: users.User) -> None:
    st.session_state[SESSION_KEY] = viewer_of(user.name, user.role, user.apps)
    st.session_state[SIGNED_IN_AS] = user.name


def _forget() -> None:
    st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(SIGNED_IN_AS, None)


def _sidebar(viewer: Viewer) -> None:
    st.sidebar.caption(f"Signed in as **{viewer.name}** ({viewer.role})")
    if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
        _forget()
        if _oidc_providers() is not None and st.user.is_logged_in:
            st.logout()
        st.rerun()


def _password_form(no_users: bool) -> None:
    st.title("Sign in to Vigil")
    if no_users:
        st.info(
            "No user exists yet. Create the first one on the server: "
            "`vigil users add NAME --role admin`."
        )
    with st.form("sign_in", clear_on_submit=True):
        name = st.text_input("Name", key="sign_in_name")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", key="sign_in_submit")
    if not submitted:
        return
    user = users.sign_in(connection(), name.strip(), password) if name.strip() else None
    if user is None:
        st.error("Wrong name or password, or the account is disabled.")
        return
    _remember(user)
    st.rerun()


def _oidc_providers() -> list[str] | None:
    """The identity providers configured in secrets.toml (``[]``: the one ``[auth]``
    provider), or None when sign-in goes through the users table."""
    if not st.secrets.load_if_toml_exists() or "auth" not in st.secrets:
        return None
    section = st.secrets["auth"]
    return [k for k, v in section.items() if isinstance(v, Mapping)]


def _oidc_sign_in() -> None:
    st.title("Sign in to Vigil")
    if not st.user.is_logged_in:
        named: list[str | None] = list(_oidc_providers() or [])
        providers = named or [None]  # [] : the one provider of the [auth] section
        for provider in providers:
            label = "Sign in" + (f" with {provider}" if provider else "")
            if st.button(label, key=f"oidc_{provider or 'default'}", type="primary"):
                st.login(provider)
        return
    email = st.user.get("email")
    verified = st.user.get("email_verified", True) is not False
    user = users.user_by_email(connection(), str(email)) if email and verified else None
    if user is None or user.disabled:
        st.error(
            f"{email or 'This account'} has no Vigil access"
            + (" (disabled)" if user is not None else "")
            + ". Ask an admin to run `vigil users add NAME --role ROLE --email "
            f"{email or 'EMAIL'}`."
        )
        if st.button("Sign out", key="oidc_sign_out"):
            st.logout()
        return
    _remember(user)
    st.rerun()
