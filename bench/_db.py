"""A throwaway embedded PostgreSQL for a benchmark run."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench._ports import free_port
from vigil.db import connect, ensure_database_exists, migrate
from vigil.db.connection import with_database
from vigil.db.embedded import EmbeddedServer


@contextmanager
def scratch_database(name: str = "vigil_bench") -> Iterator[str]:
    """A migrated database on a fresh embedded server, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as home:
        server = EmbeddedServer(Path(home), "127.0.0.1", free_port())
        server.start()
        try:
            ensure_database_exists(server.url("postgres"), name)
            url = with_database(server.url("postgres"), name)
            with connect(url, autocommit=True) as conn:
                migrate(conn)
            yield url
        finally:
            server.stop()
