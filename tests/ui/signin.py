"""Signing a viewer into an AppTest session, for page tests (the sign-in form itself is
tested on its own)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ui.access import SESSION_KEY, Role, Viewer


def sign_in(at: AppTest, name: str = "ana", role: Role = "admin",
            apps: set[str] | None = None) -> AppTest:  # fmt: skip
    at.session_state[SESSION_KEY] = Viewer(name, role, None if apps is None else frozenset(apps))
    return at
