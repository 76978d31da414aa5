"""Totals read from the database on each refresh and exposed as they are: the receivers'
ingest counts and the evaluation counters (cumulative, so Counter families), open
regressions and each SLO's error budget left (Gauge families).

The database is the source of truth: every receiver and evaluation run adds to the same
rows, so the exporter never sums anything across processes. A scrape only reads the last
snapshot; it never waits on the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from vigil.db.types import Conn
from vigil.slo import SLO, budget_left
from vigil.store import metrics as store
from vigil.store.slo import good_and_total

EVAL_OUTCOMES = (("scored", "scored"), ("skipped", "skipped"), ("errors", "error"))


@dataclass(frozen=True)
class SLOReading:
    slo: SLO
    good: int
    total: int


@dataclass(frozen=True)
class Totals:
    ingest: list[store.IngestCount] = field(default_factory=list)
    evaluation: list[dict[str, Any]] = field(default_factory=list)
    regressions: list[dict[str, Any]] = field(default_factory=list)
    slos: list[SLOReading] = field(default_factory=list)


def read_totals(conn: Conn, slos: list[SLO], now: datetime | None = None) -> Totals:
    """Everything the gauges and DB counters show, read now (SLOs over their window)."""
    end = now or datetime.now(UTC)
    readings = [SLOReading(s, *good_and_total(conn, s, end - s.period, end)) for s in slos]
    return Totals(
        ingest=store.ingest_totals(conn),
        evaluation=store.eval_totals(conn),
        regressions=store.open_regressions(conn),
        slos=readings,
    )


class TotalsCollector(Collector):
    """Yields the families of the last :class:`Totals` (empty families before the first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = Totals()

    def update(self, totals: Totals) -> None:
        with self._lock:
            self._totals = totals

    def collect(self) -> Iterator[Any]:
        with self._lock:
            t = self._totals
        yield from _ingest(t.ingest)
        yield from _evaluation(t.evaluation)
        yield from _regressions(t.regressions)
        yield from _slos(t.slos)


def _ingest(counts: list[store.IngestCount]) -> Iterator[CounterMetricFamily]:
    labels = ["app", "outcome", "reason"]
    requests = CounterMetricFamily(
        "vigil_ingest_requests", "OTLP export requests by outcome: received (answered 200) "
        "or refused, with the reason.", labels=labels)  # fmt: skip
    spans = CounterMetricFamily(
        "vigil_ingest_spans", "OTLP spans by outcome: received, then stored, duplicate or "
        "rejected (with the reason); refused with their request.", labels=labels)  # fmt: skip
    for c in counts:
        if c.requests:
            requests.add_metric([c.app, c.outcome, c.reason], c.requests)
        if c.spans or c.outcome != "refused":
            spans.add_metric([c.app, c.outcome, c.reason], c.spans)
    yield requests
    yield spans


def _evaluation(rows: list[dict[str, Any]]) -> Iterator[CounterMetricFamily]:
    scores = CounterMetricFamily(
        "vigil_eval_scores", "Scores written by evaluation runs: scored, skipped or error.",
        labels=["app", "outcome"])  # fmt: skip
    spend = CounterMetricFamily(
        "vigil_eval_judge_spend_usd", "What the LLM judges cost, in USD.", labels=["app"]
    )
    tokens = CounterMetricFamily(
        "vigil_eval_judge_tokens", "Tokens the LLM judges used.", labels=["app"]
    )
    for r in rows:
        for column, outcome in EVAL_OUTCOMES:
            scores.add_metric([r["app"], outcome], float(r[column] or 0))
        spend.add_metric([r["app"]], float(r["cost_usd"] or 0.0))
        tokens.add_metric([r["app"]], float(r["judge_tokens"] or 0))
    yield from (scores, spend, tokens)


def _regressions(rows: list[dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "vigil_open_regressions", "Regressions not resolved, by app, metric and status "
        "(open or acknowledged).", labels=["app", "metric", "status"])  # fmt: skip
    for r in rows:
        family.add_metric([r["app"], r["metric"], r["status"]], float(r["n"]))
    yield family


def _slos(readings: list[SLOReading]) -> Iterator[GaugeMetricFamily]:
    labels = ["slo", "app"]
    left = GaugeMetricFamily(
        "vigil_slo_budget_left_ratio", "Share of the SLO's error budget not spent over its "
        "window (negative: overspent); absent while the window has no events.",
        labels=labels)  # fmt: skip
    sli = GaugeMetricFamily(
        "vigil_slo_good_ratio", "Good events over all events in the SLO's window.",
        labels=labels)  # fmt: skip
    target = GaugeMetricFamily("vigil_slo_target_ratio", "The SLO's target.", labels=labels)
    for r in readings:
        names = [r.slo.name, r.slo.app]
        target.add_metric(names, r.slo.target)
        remaining = budget_left(r.slo, r.good, r.total)
        if remaining is not None:
            left.add_metric(names, remaining)
            sli.add_metric(names, r.good / r.total)
    yield from (left, sli, target)
