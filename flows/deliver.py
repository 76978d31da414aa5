"""The ``deliver-alerts`` task: send the queued alert notices after a detection pass.

It runs after detection committed, so a destination that is down or refuses never blocks
detection or scoring; when a notice fails for good the task run fails, so it shows red
in the Prefect UI, while the flow that called it completes (:func:`deliver_in_flow`).
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.alert_delivery import deliver
from flows.alerting import destinations
from vigil.settings import load_settings


class AlertDeliveryFailed(RuntimeError):
    """Raised by the task after every notice was tried, so the task run shows failed."""


@task(name="deliver-alerts", cache_policy=NO_CACHE)
def deliver_task() -> str:
    """Send the pending alert notices; fails (after sending all it can) if any failed or
    waits for a destination that seems down."""
    settings = load_settings()
    config = destinations(settings)
    if config is None:
        return "no alerts file (VIGIL_ALERTS_FILE)"
    report = deliver(settings, config)
    if not report.ok:
        raise AlertDeliveryFailed(f"{report.line()}: " + "; ".join(report.problems()[:5]))
    return report.line()


def deliver_in_flow(logger: Any) -> None:
    """Run the task in the current flow without letting its failure fail the flow."""
    if load_settings().alerts_file is None:
        return
    state = deliver_task(return_state=True)
    if state.is_failed():
        logger.warning("alert delivery failed (detection and scores are stored): %s",
                       state.message)  # fmt: skip
