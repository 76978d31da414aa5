"""A connection pool for long-running services (the OTLP receiver), inside the database layer.

Services above the store never import the driver: they get a pool from here, and catch
``UNAVAILABLE`` (no connection free in time, or PostgreSQL unreachable) to answer "retry later".
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps
from psycopg_pool import ConnectionPool, PoolTimeout

from vigil.db.connection import prepare_threshold
from vigil.db.types import Conn

UNAVAILABLE: tuple[type[Exception], ...] = (PoolTimeout, psycopg.OperationalError)
"""What a pooled call raises when the database is busy or down: worth a retry, not a 500."""


def connection_pool(url: str, max_size: int) -> ConnectionPool[Conn]:
    """An unopened pool of autocommit, dict-row connections (call ``open`` in the lifespan)."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        connection_class=psycopg.Connection,
        kwargs={
            "autocommit": True,
            "row_factory": dict_row,
            "prepare_threshold": prepare_threshold(),
        },
        configure=_fast_json,
        open=False,
    )


def _fast_json(conn: psycopg.Connection[Any]) -> None:
    """Serialise jsonb parameters with orjson: attributes are most of what the receiver writes."""
    set_json_dumps(orjson.dumps, conn)


__all__ = ["UNAVAILABLE", "connection_pool"]
