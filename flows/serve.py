"""Serve Vigil's deployments from this process (what ``vigil up`` runs).

``evaluate-window`` runs on the cron schedule of ``VIGIL_SCHEDULE_CRON``, ``canary`` on
``VIGIL_CANARY_CRON`` (a run with no live canary does nothing) and ``retention`` on
``VIGIL_RETENTION_CRON`` (a run with no policy only makes partitions); schedules can be
edited and paused in the Prefect UI. ``backfill`` and ``detect`` have no schedule: they run when
triggered (``vigil backfill``, or "Run" in the UI).
"""

from __future__ import annotations

from typing import cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment

from flows.backfill import backfill
from flows.canary import canary
from flows.deploy_setup import configure_prefect
from flows.detect import detect
from flows.evaluate_window import evaluate_window
from flows.retention import retention
from vigil.settings import load_settings


def main() -> None:
    settings = load_settings()
    # to_deployment is sync here (no running event loop); the cast tells mypy so.
    scheduled = cast(
        RunnerDeployment,
        evaluate_window.to_deployment(
            name="evaluate-window",
            cron=settings.schedule_cron,
            description="Score the last complete window of traces, then detect regressions.",
        ),
    )
    on_demand = cast(
        RunnerDeployment,
        backfill.to_deployment(
            name="backfill",
            description="Score a past date range, one child run per day (or chunk).",
        ),
    )
    detection = cast(
        RunnerDeployment,
        detect.to_deployment(
            name="detect",
            description="Look for regressions over one detection window (evaluate-window "
            "already does after each run).",
        ),
    )
    canaries = cast(
        RunnerDeployment,
        canary.to_deployment(
            name="canary",
            cron=settings.canary_cron,
            description="Compare each live canary (`vigil canary start`) with its control; "
            "alert when one turns worse.",
        ),
    )
    pruning = cast(
        RunnerDeployment,
        retention.to_deployment(
            name="retention",
            cron=settings.retention_cron,
            description="Make the next partitions; drop the weeks older than the retention "
            "policy (`vigil retention set`), rolling their scores up per segment first.",
        ),
    )
    for line in configure_prefect(settings):  # the judge limits, the crash automation
        print(line, flush=True)
    serve(scheduled, on_demand, detection, canaries, pruning, limit=2)


if __name__ == "__main__":
    main()
