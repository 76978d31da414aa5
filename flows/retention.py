"""The ``retention`` flow: drop the partitions older than the retention policy (``vigil
retention set``) and make the next ones, on a schedule (``VIGIL_RETENTION_CRON``). The work
is in :mod:`flows.pruning`."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.pruning import run_retention
from vigil.db import connect, database_url
from vigil.retention import needs_of
from vigil.settings import load_settings


@task(name="drop-expired", retries=2, retry_delay_seconds=300, cache_policy=NO_CACHE)
def drop_task(now: datetime, dry_run: bool) -> list[str]:
    run_id = str(flow_run.id) if flow_run.id else None
    logger = get_run_logger()
    settings = load_settings()
    with connect(database_url(settings), autocommit=True) as conn:
        outcome = run_retention(conn, now, dry_run=dry_run, run=run_id, log=logger,
                                needs=needs_of(settings))  # fmt: skip
    lines = outcome.lines(dry_run)
    for line in lines:
        logger.info(line)
    return lines


@flow(name="retention", log_prints=True)
def retention(now: datetime | None = None, dry_run: bool = False) -> list[str]:
    """Make the partitions of the next two weeks, then drop the traces and scores older
    than the retention policy (a run with none set drops nothing); returns what it did."""
    return drop_task(now or datetime.now(UTC), dry_run)
