"""What the judges of many workers share: slots of a Prefect global concurrency limit (and
rate limit) per judge model, and a backfill's judge budget, kept in PostgreSQL.

The limits are created by ``vigil deploy`` and ``vigil up`` (:mod:`flows.deploy_setup`),
from VIGIL_JUDGE_CONCURRENCY and VIGIL_JUDGE_RATE_LIMIT_PER_S. A flow run on a Prefect
server takes a slot for each judge request, whichever worker it runs on; a run in a
process of its own without a server (``--local``) keeps the per-process limits only.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from vigil.db import connect
from vigil.db.pool import UNAVAILABLE
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.settings import Settings
from vigil.store import budgets

LEASE_S = 60.0  # a slot held by a process that died comes back after this long


def limit_names(settings: Settings) -> tuple[str, str | None]:
    """The names of the judge model's concurrency limit and, when a rate is set, its rate
    limit (Prefect limit names: letters, digits, '.', '_' and '-')."""
    model = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{settings.judge_provider}-{settings.judge_model}")
    rate = f"vigil-judge-rate-{model}" if settings.judge_rate_limit_per_s else None
    return f"vigil-judge-{model}", rate


def judge_limits(client: Any, settings: Settings, *, update: bool = True) -> list[str]:
    """Upsert the judge model's limits (only create missing ones unless ``update``)."""
    if settings.judge_provider == "none":
        return ["judge limits: none (VIGIL_JUDGE_PROVIDER=none)"]
    from prefect.exceptions import ObjectNotFound

    slots, rate = limit_names(settings)
    wanted: list[tuple[str, int, float | None]] = [(slots, settings.judge_concurrency, None)]
    if rate is not None and settings.judge_rate_limit_per_s:
        per_s = settings.judge_rate_limit_per_s
        wanted.append((rate, max(1, round(per_s)), per_s))
    done = []
    for name, limit, decay in wanted:
        if not update:
            try:
                client.read_global_concurrency_limit_by_name(name)
                continue
            except ObjectNotFound:
                pass
        client.upsert_global_concurrency_limit_by_name(name, limit, slot_decay_per_second=decay)
        done.append(f"limit {name}: {limit}" + (f", {decay}/s" if decay else " in flight"))
    return done


def on_prefect_server() -> bool:
    """Whether this process runs a flow run against a Prefect server (not a temporary one)."""
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value()) and FlowRunContext.get() is not None


def shared_gate(settings: Settings) -> Callable[[], AbstractContextManager[object]]:
    """Entered around each judge request: a slot of the model's limits on the Prefect
    server, or nothing outside a flow run on a server."""
    if settings.judge_provider == "none" or not on_prefect_server():
        return nullcontext
    from prefect import get_client

    client = get_client(sync_client=True)
    client.__enter__()  # open for the judge's life; its HTTP connections are shared by threads
    judge_limits(client, settings, update=False)  # `vigil deploy` made them; if not, now
    return JudgeSlots(client, *limit_names(settings)).request


class JudgeSlots:
    """Slots of a judge model's global limits, taken through the Prefect server's API.

    Each request takes a slot of the concurrency limit with a lease of ``LEASE_S`` (longer
    than a judge request may take: the judge's timeout applies to each attempt, and each
    attempt takes its own slot), and gives it back after. A rate limit takes one slot that
    decays. Prefect's ``concurrency()`` context manager does the same with a lease-renewal
    service per acquisition: 60 ms of CPU a slot against 2 ms here (measured on this
    machine, 200 slots from 4 threads), which for a judge call of 10 ms of CPU was most of
    its cost.
    """

    def __init__(self, client: Any, slots: str, rate: str | None) -> None:
        self.client, self.slots, self.rate = client, slots, rate

    @contextmanager
    def request(self) -> Iterator[None]:
        if self.rate is not None:
            rate = self.rate
            self._take(
                rate, lambda: self.client.increment_concurrency_slots([rate], 1, "rate_limit")
            )
        response = self._take(
            self.slots,
            lambda: self.client.increment_concurrency_slots_with_lease(
                [self.slots], 1, "concurrency", LEASE_S
            ),
        )
        lease = response.json()["lease_id"]
        try:
            yield
        finally:
            self.client.release_concurrency_slots_with_lease(lease)

    def _take(self, name: str, ask: Callable[[], Any]) -> Any:
        """Ask until the server grants (it answers 423 with Retry-After while full)."""
        import httpx

        while True:
            try:
                response = ask()
            except httpx.HTTPStatusError as err:
                if err.response.status_code != 423:
                    raise
                time.sleep(float(err.response.headers.get("Retry-After", "1")))
                continue
            body = response.json()
            if not (body if isinstance(body, list) else body.get("limits")):
                raise VigilError(f"the Prefect server has no limit {name!r}: run `vigil deploy`")
            return response


class SharedBudget:
    """A :class:`evaluators.providers.judge_budget.Ledger` in ``judge_budgets``: one row per
    backfill and app, added to by each judge request of any of its day runs. One
    connection per judge, opened on first use; calls from its threads take turns."""

    def __init__(self, url: str, scope: str, app: str) -> None:
        self.url, self.scope, self.app = url, scope, app
        self._conn: Conn | None = None
        self._lock = threading.Lock()

    def add(self, tokens: int, cost_usd: float) -> tuple[int, float]:
        return self._with_conn(lambda c: budgets.spend(c, self.scope, self.app, tokens, cost_usd))

    def spent(self) -> tuple[int, float]:
        return self._with_conn(lambda c: budgets.spent(c, self.scope, self.app))

    def _with_conn(self, query: Callable[[Conn], tuple[int, float]]) -> tuple[int, float]:
        """Run ``query`` on the open connection; once more on a new one if it was lost."""
        with self._lock:
            return self._run(query)

    def _run(self, query: Callable[[Conn], tuple[int, float]]) -> tuple[int, float]:
        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.url, autocommit=True)
            try:
                return query(self._conn)
            except UNAVAILABLE:  # the connection was lost (a restart, a pooler)
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def __del__(self) -> None:
        if self._conn is not None:
            self._conn.close()
