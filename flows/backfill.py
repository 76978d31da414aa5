"""The ``backfill`` flow: evaluate a past date range, one child flow run per UTC day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from flows.evaluate_window import evaluate_window
from flows.windows import days

# A day's child flow run runs in the backfill's process, and the backfill's own flow run
# heartbeats for that process. A heartbeat thread of its own would cost the child about a
# second: Prefect 3.9 joins it at the end of every flow run, and it sleeps in 1 s steps
# (bench/backfill: 12 s over 8 days of 5,000 traces, a tenth of the wall time).
DAY_RUN_SETTINGS = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}


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
        day_run = evaluate_window.with_options(flow_run_name=f"backfill-{day_start:%Y-%m-%d}")
        with temporary_settings(DAY_RUN_SETTINGS):
            result = day_run(
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
