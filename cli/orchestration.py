"""Starting flow runs from the CLI (and later the UI) without importing the flows.

Deployments are addressed by name on the Prefect server that ``vigil up`` runs, so the runs
show in the Prefect UI. Prefect reads its settings when it is imported: call
:func:`use_prefect_server` before anything imports ``prefect``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from cli.supervisor.services import http_ok
from vigil.errors import VigilError
from vigil.settings import Settings

EVALUATE_DEPLOYMENT = "evaluate-window/evaluate-window"
BACKFILL_DEPLOYMENT = "backfill/backfill"
DETECT_DEPLOYMENT = "detect/detect"


def prefect_auth(settings: Settings) -> str | None:
    """VIGIL_PREFECT_AUTH, the 'user:password' of the Prefect server's basic authentication
    (PREFECT_SERVER_API_AUTH_STRING on the server, PREFECT_API_AUTH_STRING for clients)."""
    if settings.prefect_auth is None:
        return None
    value = settings.prefect_auth.get_secret_value()
    user, colon, password = value.partition(":")
    if not (user and colon and password):
        raise VigilError("VIGIL_PREFECT_AUTH must look like user:password (both non-empty)")
    return value


def use_prefect_server(settings: Settings, *, required: bool) -> bool:
    """Point Prefect at Vigil's server. Returns whether it answers.

    When it does not answer and ``required`` is false, Prefect runs flows in-process with a
    temporary local server (its records then live in VIGIL_HOME/prefect, not in the UI).
    """
    home = settings.home_dir / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    up = http_ok(f"{settings.prefect_api}/health")
    auth = prefect_auth(settings)
    if up:
        os.environ["PREFECT_API_URL"] = settings.prefect_api
        if auth is not None:
            os.environ["PREFECT_API_AUTH_STRING"] = auth
    elif required:
        raise VigilError(
            f"The Prefect server at {settings.prefect_api} does not answer. Start Vigil with "
            "`vigil up` (or `vigil up --detach`), or use --local to run in this process."
        )
    else:
        os.environ.pop("PREFECT_API_URL", None)
        # The temporary server needs more than Prefect's default 20 s on a busy small machine.
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    return up


@dataclass(frozen=True)
class RunState:
    name: str
    state: str
    final: bool
    ok: bool
    message: str | None


def trigger(deployment: str, parameters: dict[str, Any]) -> str:
    """Create a flow run of a served deployment; returns its id without waiting."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    try:
        run = cast(FlowRun, run_deployment(deployment, parameters=parameters, timeout=0))
    except Exception as err:
        raise VigilError(
            f"Could not start deployment {deployment!r}: {err!r}. Is `vigil up` running "
            "(it serves the deployments)?"
        ) from err
    return str(run.id)


def run_state(flow_run_id: str) -> RunState:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)  # type: ignore[arg-type]
    state = run.state
    assert state is not None
    return RunState(
        name=run.name,
        state=state.name or state.type.value,
        final=state.is_final(),
        ok=state.is_completed(),
        message=state.message,
    )


def wait(
    flow_run_id: str,
    on_tick: Callable[[RunState], None],
    poll_s: float = 1.0,
    timeout_s: float | None = None,
) -> RunState:
    """Poll a flow run until it is final, calling ``on_tick`` each time."""
    started = time.monotonic()
    while True:
        state = run_state(flow_run_id)
        on_tick(state)
        if state.final:
            return state
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise VigilError(f"flow run {flow_run_id} still {state.state} after {timeout_s} s")
        time.sleep(poll_s)
