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
    sample_rate: float | None = None,
) -> dict[str, Any]:
    """Score what is missing in [start, end) and run detection for each day, oldest first.
    ``sample_rate`` overrides the apps' sampling rate (their other rules still apply)."""
    logger = get_run_logger()
    totals: dict[str, Any] = {"days": 0, "traces": 0, "scored": 0, "skipped": 0, "errors": 0}
    totals["cost_usd"] = 0.0
    regressions: list[int] = []
    for day_start, day_end in days(start, end):
        result = evaluate_window.with_options(flow_run_name=f"backfill-{day_start:%Y-%m-%d}")(
            start=day_start,
            end=day_end,
            app=app,
            evaluators=evaluators,
            kind="backfill",
            sample_rate=sample_rate,
        )
        totals["days"] += 1
        for key in ("traces", "scored", "skipped", "errors", "cost_usd"):
            totals[key] += result[key]
        regressions += result["regressions"]
        logger.info(
            "%s: %d traces evaluated; %s",
            f"{day_start:%Y-%m-%d}",
            result["traces"],
            result["message"],
        )
    return {**totals, "regressions": sorted(set(regressions))}
