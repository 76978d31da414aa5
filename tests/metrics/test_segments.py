"""The segment cap: values beyond the top get (other), and a value that leaves the top loses
its series (no database needed)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from vigil.metrics import OTHER
from vigil.metrics.families import segment_families
from vigil.metrics.segments import SegmentLabels


def series(registry: CollectorRegistry) -> set[tuple[str, str]]:
    return {
        (s.labels["segment_key"], s.labels["segment_value"])
        for family in registry.collect()
        if family.name == "vigil_segment_requests"
        for s in family.samples
        if s.name.endswith("_total")
    }


def test_a_value_that_leaves_the_top_loses_its_series() -> None:
    registry = CollectorRegistry()
    families, labels = segment_families(registry), SegmentLabels()
    labels.rank([{"app": "a", "key": "route", "value": v} for v in ("x", "y")])
    for route in ("x", "y", "z"):
        for pair in labels.of("a", {"segment": {"route": route}, "model": None}):
            labels.child(families.requests, "a", pair).inc()
    assert series(registry) == {("route", "x"), ("route", "y"), ("route", OTHER)}

    labels.rank([{"app": "a", "key": "route", "value": v} for v in ("y", "z")])
    assert series(registry) == {("route", "y"), ("route", OTHER)}
    assert labels.of("a", {"segment": {"route": "z"}}) == [("route", "z")]
    assert labels.of("a", {"segment": {"route": "x"}}) == [("route", OTHER)]

    labels.rank([])  # the app had no traffic in the lookback: no key is kept
    assert series(registry) == set()
    assert labels.of("a", {"segment": {"route": "y"}}) == []
