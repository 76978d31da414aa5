"""One trace row or score row into the histograms and counters, per app and per segment.

Rows come from :func:`vigil.store.metrics.completed_traces` and
:func:`vigil.store.metrics.written_scores`. A measure the trace does not have (no latency,
no price for its model) is not observed: an unknown is never a zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.metrics.families import AppFamilies, SegmentFamilies
from vigil.metrics.segments import SegmentLabels


def observe_trace(
    per_app: AppFamilies, per_segment: SegmentFamilies, labels: SegmentLabels,
    row: Mapping[str, Any],
) -> None:  # fmt: skip
    app = row["app"]
    error = row["status"] == "error"
    latency_s = None if row["latency_ms"] is None else float(row["latency_ms"]) / 1000.0
    cost = None if row["cost_usd"] is None else float(row["cost_usd"])
    per_app.requests.labels(app).inc()
    if error:
        per_app.errors.labels(app).inc()
    if latency_s is not None:
        per_app.latency.labels(app).observe(latency_s)
    if cost is not None:
        per_app.cost.labels(app).observe(cost)
    if row["tokens_in"]:
        per_app.tokens_in.labels(app).inc(row["tokens_in"])
    if row["tokens_out"]:
        per_app.tokens_out.labels(app).inc(row["tokens_out"])
    for pair in labels.of(app, row):
        labels.child(per_segment.requests, app, pair).inc()
        if error:
            labels.child(per_segment.errors, app, pair).inc()
        if latency_s is not None:
            labels.child(per_segment.latency, app, pair).observe(latency_s)
        if cost is not None:
            labels.child(per_segment.cost, app, pair).observe(cost)


def observe_score(
    per_app: AppFamilies, per_segment: SegmentFamilies, labels: SegmentLabels,
    row: Mapping[str, Any],
) -> None:  # fmt: skip
    app, evaluator, value = row["app"], row["evaluator"], float(row["value"])
    per_app.score.labels(app, evaluator).observe(value)
    for pair in labels.of(app, row):
        labels.child(per_segment.score, app, pair, evaluator).observe(value)
