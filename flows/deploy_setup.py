"""What Vigil configures on the Prefect server when it deploys (``vigil deploy``, ``vigil up``):

- a global concurrency limit per judge model (VIGIL_JUDGE_CONCURRENCY requests in flight
  across every worker) and, with VIGIL_JUDGE_RATE_LIMIT_PER_S, a rate limit;
- an automation that marks a flow run Crashed when its heartbeats stop for
  VIGIL_CRASH_AFTER_S (its worker died), so that a backfill retries that chunk elsewhere.

Both are upserts: running them again changes only what the settings changed.
"""

from __future__ import annotations

from typing import Any

from flows.judge_sharing import judge_limits
from vigil.settings import Settings

CRASH_AUTOMATION = "vigil: mark flow runs without heartbeats crashed"
_ENDED = ("Completed", "Failed", "Cancelled", "Crashed")


def configure_prefect(settings: Settings) -> list[str]:
    """Create or update the judge limits and the crash automation; returns what was set,
    one line each (for the command's output)."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return [*judge_limits(client, settings), crash_automation(client, settings)]


def crash_automation(client: Any, settings: Settings) -> str:
    """Prefect's recipe for runs whose process died: no heartbeat for ``crash_after_s``."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    automation = AutomationCore(
        name=CRASH_AUTOMATION,
        description="Created by Vigil (vigil deploy / vigil up): a flow run whose heartbeats "
        "stopped lost its process; a backfill submits its chunk again.",
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{s}" for s in _ENDED)},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=settings.crash_after_s,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {settings.crash_after_s} s: its process is gone",
            )
        ],
    )
    existing = client.read_automations_by_name(CRASH_AUTOMATION)
    if existing:
        client.update_automation(existing[0].id, automation)
        for extra in existing[1:]:
            client.delete_automation(extra.id)
    else:
        client.create_automation(automation)
    return f"automation {CRASH_AUTOMATION!r}: after {settings.crash_after_s} s"
