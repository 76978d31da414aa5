"""The ``canary`` flow: check every live canary on a schedule (``VIGIL_CANARY_CRON``) and
alert on the ones that turned worse (:mod:`flows.canaries`)."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.canaries import check_canaries
from flows.deliver import deliver_in_flow
from vigil.settings import load_settings


@task(name="compare-canaries", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def compare_task(app: str | None) -> dict[int, str]:
    run_id = str(flow_run.id) if flow_run.id else None
    return check_canaries(load_settings(), datetime.now(UTC), app, get_run_logger(), run_id)


@flow(name="canary", log_prints=True)
def canary(app: str | None = None) -> dict[int, str]:
    """Compare every live canary (``vigil canary start``) with its control, and alert on
    the ones that turned worse; a run with no live canary does nothing."""
    verdicts = compare_task(app)
    deliver_in_flow(get_run_logger())
    return verdicts
