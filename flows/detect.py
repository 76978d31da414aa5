"""The ``detect`` flow: look for regressions over one detection window, on its own.

Every ``evaluate-window`` run ends with the same ``detect-regressions`` task, over the
detection window that contains its end. This flow runs detection alone: after scores were
corrected or re-scored, or on a schedule of its own. It is idempotent: the same window
refreshes the same regression rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger

from flows.deliver import deliver_in_flow
from flows.evaluate_window import detect_task


@flow(name="detect", log_prints=True)
def detect(end: datetime | None = None, app: str | None = None) -> list[int]:
    """Regressions from the start of the aligned detection window (the UTC day by default)
    up to ``end`` (now by default), against the baseline before it, for one app or all;
    returns the ids of the regressions found."""
    at = end or datetime.now(UTC)
    found = detect_task(at, app, None)
    deliver_in_flow(get_run_logger())
    get_run_logger().info(
        "%d regression(s) in the detection window up to %s%s",
        len(found),
        at.isoformat(),
        f" for {app}" if app else "",
    )
    return found
