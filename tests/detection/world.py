"""Rows as the store hands them to the detector, for tests without a database: a week of
baseline traffic and a window, with an optional incident. Seeded, so each case is fixed."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]
ROUTES = ("billing", "technical", "account", "shipping")
MODELS = ("model-a", "model-b")


def traffic(
    seed: int,
    baseline: int = 1400,
    window: int = 300,
    incident: Callable[[Row, random.Random], None] | None = None,
) -> tuple[list[Row], list[Row]]:
    """Trace rows and groundedness score rows; ``incident`` edits window rows in place."""
    rng = random.Random(seed)
    traces, scores = [], []
    for i in range(baseline + window):
        in_window = i >= baseline
        tokens_in = int(rng.gauss(900, 120))
        row: Row = {
            "id": f"t{i:05d}",
            "in_window": in_window,
            "segment": {"route": ROUTES[i % 4]},
            "model": MODELS[(i // 4) % 2],
            "prompt_version": "v1",
            "status": "error" if rng.random() < 0.01 else "ok",
            "latency_ms": rng.lognormvariate(7.0, 0.4),
            "tokens_in": tokens_in,
            "tokens_out": int(rng.gauss(150, 30)),
            "chunks": 4,
            "quality": min(1.0, max(0.0, rng.gauss(0.75, 0.15))),
        }
        if in_window and incident is not None:
            incident(row, rng)
        row["cost_usd"] = (row["tokens_in"] * 0.15 + row["tokens_out"] * 0.6) / 1e6
        traces.append(row)
        scores.append({"trace_id": row["id"], "evaluator": "groundedness",
                       "evaluator_version": "minilm-2", "value": row.pop("quality")})  # fmt: skip
    return traces, scores
