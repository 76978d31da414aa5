"""Who is looking: the signed-in viewer of this browser session, and what they may see.

The contract every page follows (issue 14): call :func:`current` first; it returns the
signed-in :class:`Viewer`, or renders nothing more (the router shows the sign-in form when
nobody is signed in). Filter every query by ``viewer.apps`` (``None``: every app), and
check ``viewer.can_label(app)`` / ``viewer.is_admin`` before a write. Record
``viewer.name`` with every human action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import streamlit as st

Role = Literal["viewer", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "reviewer", "admin")
SESSION_KEY = "vigil_viewer"


@dataclass(frozen=True)
class Viewer:
    name: str
    role: Role
    apps: frozenset[str] | None  # the apps granted; None: every app (admins)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_see(self, app: str) -> bool:
        return self.apps is None or app in self.apps

    def can_label(self, app: str) -> bool:
        return self.role in ("reviewer", "admin") and self.can_see(app)

    def app_list(self) -> list[str] | None:
        """``apps`` as a store function's ``apps`` argument (None: no filter)."""
        return None if self.apps is None else sorted(self.apps)


def viewer_of(name: str, role: str, apps: frozenset[str]) -> Viewer:
    """The viewer a users row makes: an admin sees every app, others what was granted."""
    for known in ROLES:
        if role == known:
            return Viewer(name, known, None if known == "admin" else apps)
    raise ValueError(f"unknown role {role!r}")


def current() -> Viewer:
    """The signed-in viewer; stops the page when nobody is signed in."""
    viewer = st.session_state.get(SESSION_KEY)
    if not isinstance(viewer, Viewer):
        st.stop()
    return viewer
