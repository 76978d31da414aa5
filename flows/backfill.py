"""The ``backfill`` flow: evaluate a past date range, one ``evaluate-window`` run per chunk.

On a work pool (the ``evaluate-window`` deployment has one), each chunk of
VIGIL_BACKFILL_CHUNK_HOURS is a flow run of that deployment, up to ``parallel`` at once, on
any worker of the pool (:mod:`flows.fan_out`); a chunk whose run crashed is submitted
again. Otherwise (``vigil up`` serving the deployments in one process, or ``local``), each
chunk is a child flow run in the backfill's own process, one after another.

Either way the chunk runs of one backfill share each app's judge budget through the
database (``budget_scope``), and each (trace, evaluator, version) is scored once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from flows.evaluate_window import evaluate_window
from flows.fan_out import PoolRuns, RunEnd, fan_out, pool_of_chunk_runs
from flows.windows import Window, chunks
from vigil.db import connect, database_url
from vigil.errors import VigilError
from vigil.settings import load_settings
from vigil.store import runs

# A chunk's child flow run runs in the backfill's process, and the backfill's own flow run
# heartbeats for that process. A heartbeat thread of its own would cost the child about a
# second: Prefect 3.9 joins it at the end of every flow run, and it sleeps in 1 s steps
# (bench/backfill: 12 s over 8 days of 5,000 traces, a tenth of the wall time).
DAY_RUN_SETTINGS = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
SUMMED = ("traces", "scored", "skipped", "errors", "cost_usd")


@flow(name="backfill", log_prints=True)
def backfill(
    start: datetime,
    end: datetime,
    app: str | None = None,
    evaluators: list[str] | None = None,
    sample_rate: float | None = None,
    parallel: int | None = None,
    local: bool = False,
) -> dict[str, Any]:
    """Score what is missing in [start, end) and run detection for each chunk, oldest first.
    ``sample_rate`` overrides the apps' sampling rate (their other rules still apply).
    ``parallel``: chunk runs in flight on the work pool (VIGIL_BACKFILL_PARALLEL);
    ``local``: run every chunk in this process even when there is a pool."""
    settings = load_settings()
    logger = get_run_logger()
    parts = list(chunks(start, end, settings.backfill_chunk_hours))
    scope = f"backfill:{flow_run.id or uuid4()}"
    shared = {"app": app, "evaluators": evaluators, "sample_rate": sample_rate}
    pool = None if local else pool_of_chunk_runs()
    if pool is None:
        logger.info("%d chunk(s) in this process, one after another", len(parts))
        return _in_process(parts, {**shared, "budget_scope": scope}, logger)
    width = parallel or settings.backfill_parallel
    logger.info("%d chunk(s) on work pool %r, %d at a time", len(parts), pool, width)

    def ended(chunk: Window, run_id: str, end: RunEnd, retried: bool) -> None:
        label = f"{chunk[0]:%Y-%m-%d %H:%M}"
        if end.ok:
            logger.info("%s: run %s completed", label, end.name)
            return
        message = f"{end.state.lower()}: {end.message or 'no message'}"
        with connect(database_url(settings, start=False), autocommit=True) as conn:
            runs.fail_flow_run(conn, run_id, f"flow run {message}")
        then = "submitting it again" if retried else "giving up on it"
        logger.warning("%s: run %s %s; %s", label, end.name, message, then)

    result = fan_out(
        parts,
        PoolRuns({**shared, "budget_scope": scope}),
        parallel=width,
        retries=settings.backfill_retries,
        on_end=ended,
    )
    with connect(database_url(settings, start=False), autocommit=True) as conn:
        found = runs.totals_of_flow_runs(conn, result.runs)
    totals: dict[str, Any] = {key: found[key] for key in SUMMED}
    totals |= {"chunks": len(result.completed), "regressions": list(found["regressions"])}
    if result.failed:
        failed = ", ".join(f"{c[0]:%Y-%m-%d %H:%M} ({e.state.lower()})" for c, e in result.failed)
        raise VigilError(
            f"{len(result.failed)} chunk(s) did not complete after "
            f"{settings.backfill_retries} retries: {failed}. Scores already stored are "
            f"kept; run the backfill again to finish them. So far: {totals}"
        )
    return totals


def _in_process(parts: list[Window], shared: dict[str, Any], logger: Any) -> dict[str, Any]:
    totals: dict[str, Any] = {"chunks": 0, "traces": 0, "scored": 0, "skipped": 0, "errors": 0}
    totals["cost_usd"] = 0.0
    regressions: list[int] = []
    for chunk_start, chunk_end in parts:
        name = f"backfill-{chunk_start:%Y-%m-%d-%H%M}"
        with temporary_settings(DAY_RUN_SETTINGS):
            result = evaluate_window.with_options(flow_run_name=name)(
                start=chunk_start, end=chunk_end, kind="backfill", **shared
            )
        totals["chunks"] += 1
        for key in SUMMED:
            totals[key] += result[key]
        regressions += result["regressions"]
        logger.info(
            "%s: %d traces evaluated; %s", f"{chunk_start:%Y-%m-%d %H:%M}", result["traces"],
            result["message"],
        )  # fmt: skip
    return {**totals, "regressions": sorted(set(regressions))}
