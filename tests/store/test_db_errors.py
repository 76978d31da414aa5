"""What the UI relies on instead of the driver: liveness and errors as VigilError."""

from __future__ import annotations

import pytest

from vigil.db import connect, is_alive, translate_errors
from vigil.db.types import Conn
from vigil.errors import VigilError


def test_a_database_error_becomes_a_vigil_error_with_its_message(conn: Conn) -> None:
    with pytest.raises(VigilError, match="division by zero"), translate_errors():
        conn.execute("SELECT 1 / 0")
    with pytest.raises(ValueError), translate_errors():  # anything else passes through
        raise ValueError("not the database")


def test_is_alive_until_closed(db_url: str) -> None:
    conn = connect(db_url, autocommit=True)
    assert is_alive(conn)
    conn.close()
    assert not is_alive(conn)
