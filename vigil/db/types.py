"""The connection type every query function takes: psycopg 3 returning rows as dicts."""

from typing import Any, TypeAlias

import psycopg

Conn: TypeAlias = psycopg.Connection[dict[str, Any]]
