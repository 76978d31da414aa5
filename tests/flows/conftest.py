"""A small demo world: 9 days, prompt v2 shipping on the last day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cli.demo.traffic import DemoPlan
from cli.demo.world import build_world

COLLECTION = "vigil-demo-docs"


@pytest.fixture
def plan() -> DemoPlan:
    return DemoPlan(
        end=datetime(2026, 6, 10, 23, 59, 59, tzinfo=UTC),
        days=9,
        per_day=120,
        regression_day=8,
        v2_share=0.8,
        seed=11,
    )


@pytest.fixture
def world(db_url: str, plan: DemoPlan, embeddings):  # type: ignore[no-untyped-def]
    summary = build_world(db_url, COLLECTION, plan, embeddings, progress=lambda _: None)
    assert summary.traces_inserted > 900
    return summary
