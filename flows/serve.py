"""Serve Vigil's deployments from this process (what ``vigil up`` runs).

``evaluate-window`` runs on the cron schedule of ``VIGIL_SCHEDULE_CRON``; the schedule can be
edited and paused in the Prefect UI. ``backfill`` has no schedule: it runs when triggered
(``vigil backfill``, or "Run" in the UI).
"""

from __future__ import annotations

from prefect import serve

from flows.backfill import backfill
from flows.evaluate_window import evaluate_window
from vigil.settings import load_settings

EVALUATE_DEPLOYMENT = "evaluate-window/evaluate-window"
BACKFILL_DEPLOYMENT = "backfill/backfill"


def main() -> None:
    settings = load_settings()
    serve(
        evaluate_window.to_deployment(
            name="evaluate-window",
            cron=settings.schedule_cron,
            description="Score the last complete window of traces, then detect regressions.",
        ),
        backfill.to_deployment(
            name="backfill",
            description="Score a past date range, one child run per day.",
        ),
        limit=2,
    )


if __name__ == "__main__":
    main()
