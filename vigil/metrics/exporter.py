"""The exporter: reads new rows and totals from PostgreSQL every ``metrics_refresh_s`` and
serves them on ``/metrics`` with prometheus_client.

Its only state is a high-water mark, a PostgreSQL snapshot: each refresh observes the
traces made complete and the scores written by transactions that committed since the last
one, then moves the mark. It starts from the current snapshot (counters begin at zero; a
restart is a counter reset, which ``rate()`` handles). Totals (ingest and evaluation
counters, open regressions, SLO budgets) are read whole each time. So it can restart, or
run beside receivers and evaluation runs on any number of hosts, without losing or double
counting anything but what a restart resets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from vigil.db import connect
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.metrics import segments
from vigil.metrics.families import app_families, segment_families
from vigil.metrics.observe import observe_score, observe_trace
from vigil.metrics.totals import TotalsCollector, read_totals
from vigil.slo import SLO
from vigil.slo import load as load_slos
from vigil.store import metrics as store

log = logging.getLogger(__name__)


class Exporter:
    """Prometheus metrics of one Vigil database, on a registry of its own."""

    def __init__(
        self,
        database_url: str,
        *,
        max_segment_values: int,
        slo_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database_url = database_url
        self.max_segment_values = max_segment_values
        self.slo_file = slo_file
        self.clock = clock
        self.registry = CollectorRegistry()
        self.per_app = app_families(self.registry)
        self.per_segment = segment_families(self.registry)
        self.labels = segments.SegmentLabels()
        self.totals = TotalsCollector()
        self.registry.register(self.totals)
        self.refreshed = Gauge("vigil_exporter_last_refresh_timestamp_seconds",
                               "When the exporter last read the database (Unix time).",
                               registry=self.registry)  # fmt: skip
        self.failures = Counter("vigil_exporter_refresh_errors",
                                "Refreshes that failed (see the exporter's log).",
                                registry=self.registry)  # fmt: skip
        self.mark: str | None = None  # pg_snapshot of the last refresh
        self._ranked_at: float | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Observe what committed since the last refresh and read the totals again. The
        first call only sets the mark. Raises on a database error: before rows are read the
        mark stays, so the next refresh catches up; once they are being read it has moved
        on, so that nothing is counted twice (the rest of that refresh's rows are lost)."""
        with self._lock, connect(self.database_url, autocommit=True) as conn:
            now = store.current_snapshot(conn)
            if self.mark is not None:
                self._rank(conn)
                since, self.mark = self.mark, now
                for row in store.completed_traces(conn, since, now):
                    observe_trace(self.per_app, self.per_segment, self.labels, row)
                for row in store.written_scores(conn, since, now):
                    observe_score(self.per_app, self.per_segment, self.labels, row)
            self.mark = now
            self.totals.update(read_totals(conn, self._slos()))
        self.refreshed.set_to_current_time()

    def _rank(self, conn: Conn) -> None:
        due = self._ranked_at is None or self.clock() - self._ranked_at >= segments.RANK_EVERY_S
        if due:
            self.labels.rank(store.top_segment_values(
                conn, segments.LOOKBACK_S, segments.MAX_KEYS, self.max_segment_values))  # fmt: skip
            self._ranked_at = self.clock()

    def _slos(self) -> list[SLO]:
        if self.slo_file is None:
            return []
        try:
            return load_slos(self.slo_file).slos
        except VigilError as err:  # a bad edit must not stop the other metrics
            log.warning("SLO budgets not exported: %s", err)
            return []

    def exposition(self) -> bytes:
        """The current metrics in the Prometheus text format."""
        return generate_latest(self.registry)

    def run(self, stop: threading.Event, every_s: float) -> None:
        """Refresh now and then every ``every_s`` until ``stop`` is set; errors are logged
        and counted, never fatal (the database may come back)."""
        while True:
            try:
                self.refresh()
            except Exception:
                self.failures.inc()
                log.exception("metrics refresh failed; retrying in %.0f s", every_s)
            if stop.wait(every_s):
                return


def serve(exporter: Exporter, host: str, port: int, every_s: float) -> Callable[[], Any]:
    """Serve ``/metrics`` on host:port and refresh in a background thread. Returns a
    function that stops both."""
    from prometheus_client import start_http_server

    server, _ = start_http_server(port, addr=host, registry=exporter.registry)
    stop = threading.Event()
    worker = threading.Thread(target=exporter.run, args=(stop, every_s), daemon=True,
                              name="vigil-metrics-refresh")  # fmt: skip
    worker.start()

    def shutdown() -> None:
        stop.set()
        server.shutdown()
        server.server_close()
        worker.join(timeout=30)

    return shutdown
