"""Helpers for tests that run the `vigil` command in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

from vigil.db.types import Conn
from vigil.models import Retrieval, Trace
from vigil.store.traces import insert_traces


def vigil(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def seed(
    conn: Conn,
    day: datetime,
    n: int = 12,
    prefix: str = "e2e",
    step: timedelta = timedelta(hours=1),
) -> int:
    """n small RAG traces, one a ``step`` from ``day``, whose answers repeat their context."""
    rows = [
        Trace(
            id=f"{prefix}-{i}",
            app="e2e",
            start_time=day + i * step,
            input=f"What is the return window for product {i}?",
            output=f"Product {i} can be returned within 30 days.",
            retrievals=[
                Retrieval(
                    document_id=f"doc-{i}", content=f"Product {i} can be returned within 30 days."
                )
            ],
        )
        for i in range(n)
    ]
    with conn.transaction():
        return insert_traces(conn, rows).inserted
