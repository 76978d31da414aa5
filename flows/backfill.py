"""The ``backfill`` flow: evaluate a past date range, one child flow run per UTC day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from flows.evaluate_window import evaluate_window
from flows.windows import days


@flow(name="backfill", log_prints=True)
def backfill(
    start: datetime,
    end: datetime,
    app: str | None = None,
    evaluators: list[str] | None = None,
) -> dict[str, Any]:
    """Score what is missing in [start, end) and run detection for each day, oldest first."""
    logger = get_run_logger()
    totals = {"days": 0, "traces": 0, "scored": 0, "skipped": 0, "errors": 0}
    regressions: list[int] = []
    for day_start, day_end in days(start, end):
        result = evaluate_window.with_options(flow_run_name=f"backfill-{day_start:%Y-%m-%d}")(
            start=day_start, end=day_end, app=app, evaluators=evaluators, kind="backfill"
        )
        totals["days"] += 1
        for key in ("traces", "scored", "skipped", "errors"):
            totals[key] += result[key]
        regressions += result["regressions"]
        logger.info("%s: %d traces scored", f"{day_start:%Y-%m-%d}", result["traces"])
    return {**totals, "regressions": sorted(set(regressions))}
