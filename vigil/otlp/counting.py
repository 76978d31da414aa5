"""The receiver's ingest counts, written to PostgreSQL (``ingest_counts``), where every
receiver and worker process adds to the same totals and the exporter reads them.

An answered batch adds its counts in its own write transaction (one statement). A refused
request usually never reaches the database: its count waits here, in memory, and is
written after the response was sent, by at most one flush at a time per process, or rides
along with the next batch. A failed flush keeps the counts for the next try and is logged;
it never fails or delays a request. What a crash loses is the refusals of the last moment.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager

from vigil.db.types import Conn
from vigil.ingest.spans import SpanWrite
from vigil.otlp.mapping import MappedBatch
from vigil.store.metrics import IngestCount, add_ingest_counts

log = logging.getLogger(__name__)
SHARDS = 16  # counter rows per (app, outcome, reason); see migration 0008


class IngestTally:
    """Counts waiting to be written; safe to use from the receiver's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[IngestCount] = []
        self._flushing = False

    def add(self, count: IngestCount) -> None:
        with self._lock:
            self._pending.append(count)

    def write(self, conn: Conn, counts: list[IngestCount]) -> list[IngestCount]:
        """Write ``counts`` and what is pending in ``conn``'s transaction; returns what was
        taken from the pending list, to :meth:`restore` if that transaction fails."""
        with self._lock:
            taken, self._pending = self._pending, []
        try:
            add_ingest_counts(conn, [*taken, *counts], shard=random.randrange(SHARDS))
        except BaseException:
            self.restore(taken)
            raise
        return taken

    def restore(self, counts: list[IngestCount]) -> None:
        with self._lock:
            self._pending[:0] = counts

    def flush(self, connection: Callable[[], AbstractContextManager[Conn]]) -> None:
        """Write what is pending with a connection from ``connection`` (a context manager
        yielding a Conn), unless another flush is running; logs and keeps the counts when
        the database cannot take them."""
        with self._lock:
            if self._flushing or not self._pending:
                return
            self._flushing = True
        try:
            with connection() as conn:  # autocommit: the statement commits by itself
                self.write(conn, [])
        except Exception as err:  # counting must never break ingestion
            log.warning("could not write ingest counts (kept for the next try): %s", err)
        finally:
            with self._lock:
                self._flushing = False

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)


def answered_counts(app: str, batch: MappedBatch, written: SpanWrite) -> list[IngestCount]:
    """What a request answered 200 adds: its spans received, then each one's fate."""
    counts = [
        IngestCount(app, "received", "", 1, len(batch.spans) + len(batch.rejected)),
        IngestCount(app, "stored", "", 0, written.stored),
        IngestCount(app, "duplicate", "", 0, written.duplicates),
        IngestCount(app, "rejected", "invalid_span", 0, len(batch.rejected)),
        *(
            IngestCount(app, "rejected", reason, 0, n)
            for reason, n in sorted(Counter(written.reasons).items())
        ),
    ]
    return [c for c in counts if c.requests or c.spans]
