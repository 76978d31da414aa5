"""The ``evaluate-window`` flow: score the sampled, unscored traces of a window, then detect.

Scheduled runs get no parameters: the window is the last complete one before the run's
scheduled time, after a grace period for late traces. Backfills pass explicit windows.
Each app's traces are picked by its sampling policy (:mod:`vigil.sampling`) and evaluated
in batches claimed with ``FOR UPDATE SKIP LOCKED`` (:mod:`vigil.store.claims`), so runs
over overlapping windows split the work, and a killed run leaves no half-written batch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from evaluators import DEFAULT_EVALUATORS, build
from flows import alerting, detection, planning
from flows.deliver import deliver_in_flow
from flows.evaluation import EMPTY, BatchOutcome, evaluate_picks, evaluate_slice, keys
from flows.planning import AppPlan
from flows.resources import Budget, build_resources, naming_resources
from flows.windows import Window, detection_windows, scheduled_window
from vigil.db import connect, database_url
from vigil.db.types import Conn
from vigil.embeddings import load_embeddings
from vigil.ingest import spans as ingest_spans
from vigil.sampling import SamplingPolicy
from vigil.settings import Settings, load_settings
from vigil.store import partitions, runs, sampling


def _conn() -> Conn:
    return connect(database_url(load_settings(), start=False), autocommit=True)


def _app_settings(settings: Settings, policy: SamplingPolicy) -> Settings:
    """Settings whose judge budget is the app's policy's."""
    return settings.model_copy(
        update={
            "judge_max_tokens_per_run": policy.judge_max_tokens,
            "judge_max_cost_usd_per_run": policy.judge_max_cost_usd,
        }
    )


def plan_app_run(
    window: Window, app: str, evaluator_names: list[str], run_id: int, sample_rate: float | None
) -> AppPlan:
    """The app's picks, recorded as claims, and the run's total. A plain call in the flow,
    not a task: one short query, and a task run costs Prefect's server about as much
    (bench/backfill); the plan is in the flow run's log."""
    settings = load_settings()
    evaluator_keys = keys(
        build(evaluator_names, naming_resources(settings), settings.extra_evaluator_paths)
    )
    with _conn() as conn:
        plan = planning.plan_app(
            conn, settings, app, window, evaluator_keys, run_id, sample_rate=sample_rate
        )
        runs.add_total(conn, run_id, len(plan.trace_ids))
    return plan


@task(name="evaluate-batches", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def evaluate_task(
    ids: list[str],
    evaluator_names: list[str],
    run_id: int,
    policy: SamplingPolicy,
    budget: Budget | None = None,
) -> BatchOutcome:
    """A slice of up to ``task_traces`` traces, claimed, evaluated and committed
    ``batch_size`` at a time (one Prefect task per batch would cost more than the batch).
    ``budget``: the (scope, app) of a judge budget shared with other runs (a backfill's)."""
    settings = _app_settings(load_settings(), policy)
    url = database_url(settings, start=False)
    with connect(url, autocommit=True) as conn, connect(url) as lock_conn:
        evaluators = build(evaluator_names, build_resources(settings, conn, run_id, budget),
                           settings.extra_evaluator_paths)  # fmt: skip
        return evaluate_slice(
            conn, lock_conn, ids, evaluators, run_id, settings.batch_size,
            settings.eval_max_attempts,
        )  # fmt: skip


@task(name="detect-regressions", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def detect_task(end: datetime, app: str | None, run_id: int | None) -> list[int]:
    settings = load_settings()
    window, baseline = detection_windows(end, settings.detect_window_hours, settings.baseline_days)
    with _conn() as conn, conn.transaction():
        found = detection.detect(
            conn, window, baseline, app=app, policy=detection.Policy.from_settings(settings),
            run_id=run_id, embed=load_embeddings(settings.embedding_model).embed_documents,
        )  # fmt: skip
        run = str(flow_run.id) if flow_run.id else None  # linked when the row has none
        alerting.queue_alerts(conn, settings, end, datetime.now(UTC), _warn, run)
        return found


def _warn(message: str) -> None:
    get_run_logger().warning(message)


@flow(name="evaluate-window", log_prints=True)
def evaluate_window(
    start: datetime | None = None,
    end: datetime | None = None,
    app: str | None = None,
    evaluators: list[str] | None = None,
    kind: Literal["window", "backfill", "adhoc"] = "window",
    sample_rate: float | None = None,
    budget_scope: str | None = None,
) -> dict[str, Any]:
    """Score the traces of [start, end) that each app's sampling policy picks and that are
    not scored yet, then look for regressions. ``sample_rate`` overrides the policies' rate.
    ``budget_scope`` (a backfill's) shares each app's judge budget with the other runs of
    that scope, on any worker."""
    settings = load_settings()
    window = _resolve_window(start, end, settings.window_minutes, settings.grace_minutes)
    return run_window(
        window,
        app,
        list(evaluators or DEFAULT_EVALUATORS),
        kind,
        sample_rate,
        get_run_logger(),
        flow_run_id=str(flow_run.id) if flow_run.id else None,
        budget_scope=budget_scope,
    )


EvaluateSlice = Callable[[list[str], list[str], int, SamplingPolicy, Budget | None], BatchOutcome]
Detect = Callable[[datetime, str | None, int | None], list[int]]


def run_window(
    window: Window,
    app: str | None,
    names: list[str],
    kind: Literal["window", "backfill", "adhoc"],
    sample_rate: float | None,
    logger: Any,
    *,
    flow_run_id: str | None = None,
    budget_scope: str | None = None,
    evaluate: EvaluateSlice | None = None,
    detect: Detect | None = None,
) -> dict[str, Any]:
    """The ``evaluate-window`` flow's body, a plain function: recorded as one run, each
    app's picks through ``evaluate`` (default: the ``evaluate-batches`` task), then
    ``detect`` (default: the ``detect-regressions`` task). bench/backfill passes the tasks'
    plain functions to time the same work without Prefect."""
    settings = load_settings()
    with _conn() as conn:
        partitions.ensure_ahead(conn, datetime.now(UTC))  # the receivers seldom need to
        ingest_spans.complete_quiet_traces(conn, settings.trace_grace_s)
        apps = sampling.window_apps(conn, *window, app)
        run_id = runs.start_run(
            conn,
            kind=kind,
            window_start=window[0],
            window_end=window[1],
            evaluators=names,
            app=app,
            flow_run_id=flow_run_id,
        )
    logger.info("window %s .. %s: %d app(s) with traces", *window_iso(window), len(apps))
    total, notes = EMPTY, []
    try:
        for name in apps:
            budget = (budget_scope, name) if budget_scope else None
            outcome, note = evaluate_app(
                window, name, names, run_id, sample_rate, logger, evaluate or evaluate_task, budget
            )
            total = total + outcome
            notes += [note] if note else []
        found = (detect or detect_task)(window[1], app, run_id)
        deliver_in_flow(logger)
    except BaseException as err:
        with _conn() as conn:
            runs.finish_run(conn, run_id, "failed", f"{type(err).__name__}: {err}")
        raise
    message = "; ".join([*notes, f"{len(found)} regression(s)"])
    with _conn() as conn:
        runs.finish_run(conn, run_id, "completed", message)
    logger.info(
        "scored %d, skipped %d, errors %d, judge $%.4f; %s",
        total.scored,
        total.skipped,
        total.errors,
        total.cost_usd,
        message,
    )
    return {
        "run_id": run_id,
        "traces": total.traces,
        "scored": total.scored,
        "skipped": total.skipped,
        "errors": total.errors,
        "cost_usd": total.cost_usd,
        "regressions": found,
        "message": message,
    }


def evaluate_app(
    window: Window,
    app: str,
    names: list[str],
    run_id: int,
    sample_rate: float | None,
    logger: Any,
    evaluate: EvaluateSlice = evaluate_task,
    budget: Budget | None = None,
) -> tuple[BatchOutcome, str | None]:
    """One app's picks, a slice of ``task_traces`` at a time through ``evaluate`` (the
    ``evaluate-batches`` task; bench/backfill passes its plain function); then one more pass
    over the traces another run held (finished by it meanwhile, or free again if it died).
    Stops at the judge budget."""
    size = load_settings().task_traces
    plan = plan_app_run(window, app, names, run_id, sample_rate)
    logger.info("%s; policy: %s", plan.describe(), plan.policy.describe())
    total = evaluate_picks(
        plan.trace_ids, lambda part: evaluate(part, names, run_id, plan.policy, budget), size
    )
    if total.budget_spent:
        left = len(plan.trace_ids) - total.traces
        return total, (
            f"{app}: judge budget reached ({total.judge_tokens:,} tokens, "
            f"${total.cost_usd:.4f}); took no new traces, {left} left for the next run"
        )
    if total.busy:
        return total, f"{app}: {len(total.busy)} traces left to a concurrent run"
    return total, None


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
