"""Sending the queued alert notices (the outbox of :mod:`vigil.store.alerts`), oldest first.

Each notice gets ``VIGIL_ALERT_MAX_ATTEMPTS`` tries with backoff in a pass. A destination
that refuses (a 4xx other than 429) fails the notice at once; one that seems down (no
answer, 429, 5xx) leaves it for later passes, until it is ``VIGIL_ALERT_GIVE_UP_HOURS``
old. Plain functions, no Prefect: ``vigil alerts test`` and the ``deliver-alerts`` task
(:mod:`flows.deliver`) both call :func:`deliver`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from vigil.alerts import Alert, AlertsFile, Attempt, render, send
from vigil.db import connect, database_url
from vigil.db.types import Conn
from vigil.settings import Settings
from vigil.store import alerts as store

OnAttempt = Callable[[str, Attempt], None]


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: list[str] = field(default_factory=list)  # "notice 4 to oncall: HTTP 400 ..."
    retrying: list[str] = field(default_factory=list)  # destination down: a later pass
    deferred: int = 0  # not tried: their destination failed earlier in this pass

    @property
    def ok(self) -> bool:
        return not self.failed and not self.retrying

    def line(self) -> str:
        return (
            f"{self.delivered} delivered, {len(self.failed)} failed, "
            f"{len(self.retrying)} to retry, {self.deferred} deferred to the next pass"
        )

    def problems(self) -> list[str]:
        return self.failed + self.retrying


def deliver(settings: Settings, config: AlertsFile, ids: list[int] | None = None,
            on_attempt: OnAttempt | None = None) -> DeliveryReport:  # fmt: skip
    """Send every due pending notice (or those of ``ids``), oldest first. After a notice
    to a destination fails, the rest for it wait for the next pass instead of each
    spending its retries now."""
    report, broken, after = DeliveryReport(), set[str](), 0
    url = database_url(settings, start=False)
    timeout = httpx.Timeout(settings.alert_timeout_s)
    with connect(url) as conn, connect(url, autocommit=True) as log, \
            httpx.Client(timeout=timeout) as client:  # fmt: skip
        while True:
            with conn.transaction():
                notice = store.claim_next(conn, after, ids)
                if notice is None:
                    return report
                after = notice["id"]
                if notice["destination"] in broken:
                    report.deferred += 1
                    continue
                sender = _Sender(conn, log, client, settings, report, on_attempt)
                if not sender.deliver(notice, config):
                    broken.add(notice["destination"])


@dataclass
class _Sender:
    conn: Conn  # holds the claim; the outcome is written here
    log: Conn  # autocommit: each attempt is kept even if this process dies mid-send
    client: httpx.Client
    settings: Settings
    report: DeliveryReport
    on_attempt: OnAttempt | None

    def deliver(self, notice: dict[str, Any], config: AlertsFile) -> bool:
        """Send one claimed notice and record the outcome; True when delivered."""
        nid, name = notice["id"], notice["destination"]

        def logged(attempt: Attempt) -> None:
            store.log_attempt(self.log, nid, attempt.number, attempt.status_code,
                              attempt.error, attempt.duration_ms)  # fmt: skip
            if self.on_attempt is not None:
                self.on_attempt(name, attempt)

        try:
            url, body, headers = render(config.get(name), Alert.model_validate(notice["alert"]))
            last = send(self.client, url, body, headers,
                        max_attempts=self.settings.alert_max_attempts,
                        backoff_s=self.settings.alert_backoff_s, on_attempt=logged)  # fmt: skip
        except Exception as err:  # a destination gone from the file, a URL httpx refuses, ...
            error = f"{type(err).__name__}: {err}"
            store.finish(self.conn, nid, "failed", 0, None, error)
            self.report.failed.append(f"notice {nid} to {name}: {error}")
            return False
        if last.ok:
            store.finish(self.conn, nid, "delivered", last.number, last.status_code, None)
            self.report.delivered += 1
            return True
        what = f"notice {nid} to {name}: {last.error} after {last.number} attempt(s)"
        if not last.retryable:
            store.finish(self.conn, nid, "failed", last.number, last.status_code, last.error)
            self.report.failed.append(what)
            return False
        left = store.retry_later(self.conn, nid, last.number, last.status_code, last.error,
                                 self.settings.alert_give_up_hours)  # fmt: skip
        if left == "failed":
            self.report.failed.append(f"{what}; given up after "
                                      f"{self.settings.alert_give_up_hours:g} h")  # fmt: skip
        else:
            self.report.retrying.append(f"{what}; a later pass retries it")
        return False
