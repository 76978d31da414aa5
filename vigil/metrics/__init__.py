"""Prometheus metrics of a Vigil database (docs/metrics.md): quality, cost, latency and
errors per app and segment, ingest and evaluation counters, open regressions, SLO budgets."""

from vigil.metrics.exporter import Exporter, serve
from vigil.metrics.segments import OTHER

__all__ = ["OTHER", "Exporter", "serve"]
