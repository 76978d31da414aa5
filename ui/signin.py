"""The sign-in gate the router runs before any page (docs/access.md).

With an identity provider in ``.streamlit/secrets.toml`` (an ``[auth]`` section), people
sign in through it (``st.login``) and are matched by their verified email to a row of the
users table, which gives their role and apps. Otherwise they sign in with a name and
password from that table (``vigil users add``). Nobody signed in sees only the sign-in form.

The session's viewer is read again from the users table on every run, so a disabled user,
a changed role or a revoked grant takes effect at the next click; with an identity provider,
so is the person it reports (``st.user``), who must still be that user. Password guesses
are throttled per name (:func:`vigil.store.users.sign_in`).
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


def signed_in() -> bool:
    """Whether this session has a viewer (not re-checked: :func:`gate` does that)."""
    return isinstance(st.session_state.get(SESSION_KEY), Viewer)


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
    """The viewer from the user's current row; signs out a removed or disabled user, and,
    with an identity provider, a session whose provider no longer reports that user's
    verified email (signed out there, or signed in as someone else)."""
    try:
        user = users.get_user(connection(), name)
    except VigilError:
        user = None
    if user is None or user.disabled:
        _forget()
        st.warning("Your account was disabled or removed; you have been signed out.")
        return None
    if _oidc_providers() is not None:
        if not st.user.is_logged_in:
            _forget()  # the identity provider's session ended
            return None
        email = _verified_email()
        if email is None or user.email is None or email.lower() != user.email.lower():
            _forget()
            st.warning(
                f"You have been signed out of {user.name}'s session: the identity provider "
                "now reports another person, or an email it has not verified."
            )
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
    name = name.strip()
    if not name:
        st.error("Wrong name or password, or the account is disabled.")
        return
    conn = connection()
    try:
        user = users.sign_in(conn, name, password)
    except users.Locked as err:
        st.error(str(err))
        return
    if user is None:
        lock = next(iter(users.sign_in_locks(conn, name)), None)
        st.error(
            "Wrong name or password, or the account is disabled."
            + (f" {lock.message()}" if lock is not None and lock.locked_until else "")
        )
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
    verified = _verified_email()
    user = users.user_by_email(connection(), verified) if verified else None
    if verified is None and email:
        st.error(
            f"{email} has no Vigil access: the identity provider does not report it as "
            "verified (`email_verified`), and Vigil signs in verified emails only."
        )
    elif user is None or user.disabled:
        st.error(
            f"{email or 'This account'} has no Vigil access"
            + (" (disabled)" if user is not None else "")
            + ". Ask an admin to run `vigil users add NAME --role ROLE --email "
            f"{email or 'EMAIL'}`."
        )
    else:
        _remember(user)
        st.rerun()
    if st.button("Sign out", key="oidc_sign_out"):
        st.logout()


def _verified_email() -> str | None:
    """The email the identity provider reports for the signed-in person, if it also reports
    it verified (``email_verified`` true); None otherwise, a missing claim included."""
    if not st.user.is_logged_in:
        return None
    email = st.user.get("email")
    verified = st.user.get("email_verified")
    if not email or str(verified).lower() != "true":
        return None
    return str(email)
