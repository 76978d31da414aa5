"""The ``evaluate-window`` flow: score the unscored traces of a window, then detect.

Scheduled runs get no parameters: the window is the last complete one before the run's
scheduled time, after a grace period for late traces. Backfills pass explicit windows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from evaluators import DEFAULT_EVALUATORS, build
from flows import detection
from flows.evaluation import EMPTY, BatchOutcome, chunks, evaluate_batch
from flows.resources import build_resources, naming_resources
from flows.windows import Window, detection_windows, scheduled_window
from vigil.db import connect, database_url
from vigil.db.types import Conn
from vigil.settings import load_settings
from vigil.store import runs, spans, traces


def _conn() -> Conn:
    return connect(database_url(load_settings(), start=False), autocommit=True)


@task(name="select-traces", retries=2, retry_delay_seconds=5)
def select_traces(window: Window, evaluator_names: list[str], app: str | None) -> list[str]:
    settings = load_settings()
    ev = build(evaluator_names, naming_resources(settings))
    with _conn() as conn:
        spans.complete_quiet_traces(conn, settings.trace_grace_s)
        return traces.select_unscored(
            conn,
            window[0],
            window[1],
            [(e.name, e.version) for e in ev],
            app=app,
            sample_rate=settings.sample_rate,
        )


@task(name="evaluate-batch", retries=1, retry_delay_seconds=5)
def evaluate_batch_task(ids: list[str], evaluator_names: list[str], run_id: int) -> BatchOutcome:
    settings = load_settings()
    with _conn() as conn:
        evaluators = build(evaluator_names, build_resources(settings, conn, run_id))
        return evaluate_batch(conn, ids, evaluators, run_id)


@task(name="detect-regressions", retries=2, retry_delay_seconds=5)
def detect_task(end: datetime, app: str | None, run_id: int) -> list[int]:
    settings = load_settings()
    window, baseline = detection_windows(end, settings.detect_window_hours, settings.baseline_days)
    with _conn() as conn, conn.transaction():
        return detection.detect(
            conn,
            window,
            baseline,
            app=app,
            review_limit=settings.review_per_regression,
            run_id=run_id,
        )


@flow(name="evaluate-window", log_prints=True)
def evaluate_window(
    start: datetime | None = None,
    end: datetime | None = None,
    app: str | None = None,
    evaluators: list[str] | None = None,
    kind: Literal["window", "backfill", "adhoc"] = "window",
) -> dict[str, Any]:
    """Score every sampled, unscored trace in [start, end), then look for regressions."""
    logger = get_run_logger()
    settings = load_settings()
    names = list(evaluators or DEFAULT_EVALUATORS)
    window = _resolve_window(start, end, settings.window_minutes, settings.grace_minutes)
    ids = select_traces(window, names, app)
    with _conn() as conn:
        run_id = runs.start_run(
            conn,
            kind=kind,
            window_start=window[0],
            window_end=window[1],
            evaluators=names,
            app=app,
            flow_run_id=str(flow_run.id) if flow_run.id else None,
            traces_total=len(ids),
        )
    logger.info("window %s .. %s: %d traces to evaluate", *window_iso(window), len(ids))
    total = EMPTY
    try:
        for batch in chunks(ids, settings.batch_size):
            total = total + evaluate_batch_task(batch, names, run_id)
        found = detect_task(window[1], app, run_id)
    except BaseException as err:
        with _conn() as conn:
            runs.finish_run(conn, run_id, "failed", f"{type(err).__name__}: {err}")
        raise
    with _conn() as conn:
        runs.finish_run(conn, run_id, "completed", f"{len(found)} regression(s)")
    logger.info(
        "scored %d, skipped %d, errors %d; regressions: %s",
        total.scored,
        total.skipped,
        total.errors,
        found or "none",
    )
    return {
        "run_id": run_id,
        "traces": total.traces,
        "scored": total.scored,
        "skipped": total.skipped,
        "errors": total.errors,
        "regressions": found,
    }


def _resolve_window(
    start: datetime | None, end: datetime | None, minutes: int, grace: int
) -> Window:
    if start is not None and end is not None:
        if end <= start:
            raise ValueError(f"end {end.isoformat()} is not after start {start.isoformat()}")
        return start, end
    if start is not None or end is not None:
        raise ValueError("give both start and end, or neither (scheduled run)")
    scheduled = flow_run.scheduled_start_time or datetime.now(UTC)
    return scheduled_window(scheduled, minutes, grace)


def window_iso(window: Window) -> tuple[str, str]:
    return window[0].isoformat(), window[1].isoformat()
