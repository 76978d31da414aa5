"""A backfill's chunks as flow runs of the ``evaluate-window`` deployment on its work pool.

:func:`fan_out` is the plain loop: up to ``parallel`` chunk runs in flight, each polled
until it ends; a run that crashed (its worker died) or failed is submitted again, up to
``retries`` times, and any worker of the pool may take it. :class:`PoolRuns` does the
submitting and polling through Prefect (``run_deployment``, not a subflow, so the chunk
runs on a worker and not in the backfill's process).

Exactly once holds whatever is retried: a chunk run claims its traces in PostgreSQL batch
by batch, a killed run's uncommitted batch rolls back with its connections, and scores are
unique per (trace, evaluator, version), so the retry scores only what is missing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flows.windows import Window

EVALUATE_DEPLOYMENT = "evaluate-window/evaluate-window"
RETRYABLE = ("CRASHED", "FAILED")


@dataclass(frozen=True)
class RunEnd:
    """How a chunk run ended: its Prefect state type (COMPLETED, CRASHED, ...)."""

    name: str
    state: str
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "COMPLETED"


class ChunkRuns(Protocol):
    def submit(self, chunk: Window, attempt: int) -> str:
        """Start a run of ``chunk``; returns its id."""
        ...

    def ended(self, run_id: str) -> RunEnd | None:
        """How the run ended, or None while it is scheduled, pending or running."""
        ...


@dataclass
class FanOut:
    """What the chunk runs did: every run submitted (retries too), and the chunks that
    still had not completed after their last attempt."""

    runs: list[str] = field(default_factory=list)
    completed: list[Window] = field(default_factory=list)
    failed: list[tuple[Window, RunEnd]] = field(default_factory=list)


def fan_out(
    chunks: list[Window],
    runs: ChunkRuns,
    *,
    parallel: int,
    retries: int,
    on_end: Callable[[Window, str, RunEnd, bool], None] = lambda *_: None,
    poll_s: float = 2.0,
) -> FanOut:
    """Run every chunk, oldest first, ``parallel`` at a time. ``on_end(chunk, run_id, end,
    retried)`` is called as each run ends."""
    result = FanOut()
    pending = deque((chunk, 0) for chunk in chunks)
    flying: dict[str, tuple[Window, int]] = {}
    while pending or flying:
        while pending and len(flying) < parallel:
            chunk, attempt = pending.popleft()
            run_id = runs.submit(chunk, attempt)
            result.runs.append(run_id)
            flying[run_id] = (chunk, attempt)
        time.sleep(poll_s)
        for run_id, (chunk, attempt) in list(flying.items()):
            end = runs.ended(run_id)
            if end is None:
                continue
            del flying[run_id]
            retry = not end.ok and end.state in RETRYABLE and attempt < retries
            on_end(chunk, run_id, end, retry)
            if end.ok:
                result.completed.append(chunk)
            elif retry:
                pending.appendleft((chunk, attempt + 1))
            else:
                result.failed.append((chunk, end))
    return result


class PoolRuns:
    """Chunk runs of the ``evaluate-window`` deployment, on whichever worker takes them."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.parameters = parameters  # app, evaluators, sample_rate, budget_scope

    def submit(self, chunk: Window, attempt: int) -> str:
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment

        name = f"backfill-{chunk[0]:%Y-%m-%d-%H%M}" + (f"-retry{attempt}" if attempt else "")
        params = {**self.parameters, "start": chunk[0], "end": chunk[1], "kind": "backfill"}
        run = run_deployment(
            EVALUATE_DEPLOYMENT, parameters=params, timeout=0, flow_run_name=name,
            tags=["vigil-backfill"],
        )  # fmt: skip
        assert isinstance(run, FlowRun)
        return str(run.id)

    def ended(self, run_id: str) -> RunEnd | None:
        from prefect import get_client

        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_id)  # type: ignore[arg-type]
        if run.state is None or not run.state.is_final():
            return None
        return RunEnd(run.name, run.state.type.value, run.state.message)


def pool_of_chunk_runs() -> str | None:
    """The work pool of the ``evaluate-window`` deployment, or None when there is none (the
    deployments are served by ``vigil up`` in one process, or not deployed at all)."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return None
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(EVALUATE_DEPLOYMENT)
        except ObjectNotFound:
            return None
    return deployment.work_pool_name or None
