"""The one place the UI's pages get a database connection."""

from __future__ import annotations

import streamlit as st

from vigil.db import connect, database_url, is_alive
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.settings import load_settings

Connection = Conn

FIX = (
    "Start Vigil with `vigil up` (or only its database with `vigil db start`), "
    "or set VIGIL_DATABASE_URL to a running PostgreSQL with pgvector, then reload this page."
)


def _close(conn: Connection) -> None:
    conn.close()


# One connection per browser session, so that one reviewer's transaction never spans another
# session's queries; it is closed when the session ends or the cache is cleared, and replaced
# when it was closed or the server went away.
@st.cache_resource(scope="session", validate=is_alive, on_release=_close, show_spinner=False)
def _open(url: str) -> Connection:
    return connect(url, autocommit=True)


def connection() -> Connection:
    """An autocommit connection to Vigil's database, or an error on the page and a stop.

    Pages wrap writes in ``with conn.transaction():``.
    """
    try:
        return _open(database_url(load_settings(), start=False))
    except VigilError as err:
        st.error(f"Vigil cannot reach its database. {err}\n\n{FIX}", icon=":material/error:")
        st.stop()
