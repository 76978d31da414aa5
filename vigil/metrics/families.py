"""The histograms and counters the exporter observes rows into, per app and per segment.

Real prometheus_client metrics on the exporter's own registry (never the global one), so
that ``rate()`` and ``histogram_quantile()`` work on them. Buckets are fixed here: a bucket
change is a change of every dashboard that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
COST_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
SEGMENT = ("segment_key", "segment_value")


@dataclass(frozen=True)
class AppFamilies:
    """Per app: every trace made complete and every score written since the exporter
    started."""

    score: Histogram
    latency: Histogram
    cost: Histogram
    requests: Counter
    errors: Counter
    tokens_in: Counter
    tokens_out: Counter


@dataclass(frozen=True)
class SegmentFamilies:
    """The same per segment key and value (capped; the rest are ``(other)``)."""

    score: Histogram
    latency: Histogram
    cost: Histogram
    requests: Counter
    errors: Counter

    def all(self) -> tuple[Histogram | Counter, ...]:
        return (self.score, self.latency, self.cost, self.requests, self.errors)


def app_families(registry: CollectorRegistry) -> AppFamilies:
    app, scored = ("app",), ("app", "evaluator")
    return AppFamilies(
        score=Histogram("vigil_score", "Evaluator scores in [0, 1] of each trace.",
                        scored, registry=registry, buckets=SCORE_BUCKETS),
        latency=Histogram("vigil_request_latency_seconds", "Latency of each request (trace).",
                          app, registry=registry, buckets=LATENCY_BUCKETS),
        cost=Histogram("vigil_request_cost_usd", "LLM cost of each request (trace), in USD.",
                       app, registry=registry, buckets=COST_BUCKETS),
        requests=Counter("vigil_requests", "Requests (complete traces).", app,
                         registry=registry),
        errors=Counter("vigil_request_errors", "Requests whose trace has status error.", app,
                       registry=registry),
        tokens_in=Counter("vigil_input_tokens", "Input (prompt) tokens of the requests.", app,
                          registry=registry),
        tokens_out=Counter("vigil_output_tokens", "Output (completion) tokens of the requests.",
                           app, registry=registry),
    )  # fmt: skip


def segment_families(registry: CollectorRegistry) -> SegmentFamilies:
    seg, scored = ("app", *SEGMENT), ("app", "evaluator", *SEGMENT)
    return SegmentFamilies(
        score=Histogram("vigil_segment_score", "Evaluator scores by segment value.", scored,
                        registry=registry, buckets=SCORE_BUCKETS),
        latency=Histogram("vigil_segment_request_latency_seconds",
                          "Request latency by segment value.", seg, registry=registry,
                          buckets=LATENCY_BUCKETS),
        cost=Histogram("vigil_segment_request_cost_usd", "Request cost in USD by segment value.",
                       seg, registry=registry, buckets=COST_BUCKETS),
        requests=Counter("vigil_segment_requests", "Requests by segment value.", seg,
                         registry=registry),
        errors=Counter("vigil_segment_request_errors", "Requests with status error by segment "
                       "value.", seg, registry=registry),
    )  # fmt: skip
