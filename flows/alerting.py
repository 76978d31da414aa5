"""Alerts from regressions and SLO burns, queued with the state they report, and their
delivery.

Queueing happens inside the detection pass's transaction (:func:`sync_regressions`), so a
regression and its trigger are committed together, or neither. Delivery (:func:`deliver`)
happens after the commit, in its own task (:mod:`flows.deliver`): a destination that is
down or refuses never blocks detection or scoring. Plain functions, no Prefect: the CLI
imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from vigil.alerts import Alert, AlertsFile, load_alerts, render, send
from vigil.alerts.config import Destination
from vigil.alerts.send import Attempt
from vigil.db import connect, database_url
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.settings import Settings
from vigil.slo import SLO, Burn, SLOFile, budget_left
from vigil.slo import load as load_slos
from vigil.store import alerts as store
from vigil.store import slo as slo_store


def destinations(settings: Settings) -> AlertsFile | None:
    """The alerts file, or None when ``VIGIL_ALERTS_FILE`` is not set."""
    return load_alerts(settings.alerts_file) if settings.alerts_file else None


def targets(config: AlertsFile, alert: Alert) -> list[str]:
    return [d.name for d in config.destinations if d.wants(alert.kind, alert.app, alert.severity)]


def raise_or_clear(conn: Conn, config: AlertsFile, source: str, alert: Alert, on: bool) -> None:
    """Move ``source`` to firing (``on``) or quiet, queueing what that calls for."""
    if on:
        store.fire(conn, source, alert.kind, alert.app, alert.model_dump(), targets(config, alert))
    else:
        store.quiet(conn, source, alert.resolved().model_dump())


def regression_alert(row: dict[str, Any], settings: Settings) -> Alert:
    metric = row["metric"] + (f" ({row['evaluator']})" if row["evaluator"] else "")
    links = {"regression": f"{settings.ui_address}/regressions?regression={row['id']}"}
    if row.get("flow_run_id"):
        links["prefect run"] = f"{settings.prefect_ui}/runs/flow-run/{row['flow_run_id']}"
    return Alert(
        kind="regression",
        key=f"vigil-regression-{row['id']}",
        severity="error",
        app=row["app"],
        title=row["headline"] or f"{metric} regressed",
        metric=metric,
        segment=row["segment"],
        attribution=[a["text"] for a in row["attribution"][:3]],
        before=row["baseline_mean"],
        after=row["window_mean"],
        details={"regression": row["id"], "q_value": row["q_value"],
                 "window": f"{row['window_start']:%Y-%m-%d %H:%M} .. {row['window_end']:%H:%M}",
                 "traces (window/baseline)": f"{row['window_n']}/{row['baseline_n']}"},
        links=links,
    )  # fmt: skip


def sync_regressions(conn: Conn, config: AlertsFile, settings: Settings) -> None:
    """Page every open or acknowledged regression once, and resolve the pages of those
    that resolved. Call in the detection pass's transaction."""
    for row in store.regressions_unresolved(conn):
        raise_or_clear(conn, config, f"regression:{row['id']}", regression_alert(row, settings),
                       True)  # fmt: skip
    for row in store.regressions_quieted(conn):
        raise_or_clear(conn, config, f"regression:{row['id']}", regression_alert(row, settings),
                       False)  # fmt: skip


SLO_RECENT = timedelta(hours=1)


def queue_alerts(conn: Conn, settings: Settings, end: datetime, now: datetime,
                 warn: Callable[[str], None]) -> None:  # fmt: skip
    """Queue what a detection pass ending at ``end`` calls for, in its transaction: every
    regression's page or resolve, and, when the pass is about now (not a backfilled past),
    the SLOs' burn alerts. A broken alerts or SLO file is reported through ``warn`` and
    skipped, never failing the pass: the next pass with a fixed file catches up, since
    it reconciles every unresolved regression (and deliver-alerts fails on the file)."""
    try:
        config = destinations(settings)
        parsed = load_slos(settings.slo_file) if settings.slo_file else None
    except VigilError as err:
        warn(f"alerts not queued by this pass: {err}")
        return
    if config is None:
        return
    sync_regressions(conn, config, settings)
    if parsed is not None and now - end < SLO_RECENT:
        sync_slos(conn, config, parsed, settings, now)


def slo_alert(slo: SLO, burns: list[Burn], good: int, total: int, settings: Settings) -> Alert:
    hot = [b for b in burns if b.firing] or burns
    rates = "; ".join(f"{b.pair.long}/{b.pair.short} at {_x(b.long_rate)}/{_x(b.short_rate)} "
                      f"(alert at {b.pair.factor:g}x)" for b in hot)  # fmt: skip
    page = any(b.firing and b.pair.severity == "page" for b in burns)
    return Alert(
        kind="slo",
        key=f"vigil-slo-{slo.app}-{slo.name}",
        severity="critical" if page else "warning",
        app=slo.app,
        title=f"SLO {slo.name} is burning its error budget: {rates}",
        metric=slo.describe(),
        segment=slo.segment,
        before=slo.target,
        after=good / total if total else None,
        details={"slo": slo.name, "window": slo.window, "events": total,
                 "budget left": budget_left(slo, good, total)},
        links={"regressions": f"{settings.ui_address}/regressions"},
    )  # fmt: skip


def sync_slos(conn: Conn, config: AlertsFile, parsed: SLOFile, settings: Settings,
              now: datetime) -> int:  # fmt: skip
    """Fire each SLO with a burning window pair, quiet the others; returns how many fire.
    The SLOs no longer in the file are quieted too."""
    live, hot = set(), 0
    for slo in parsed.slos:
        burns = slo_store.burns(conn, slo, parsed.burn_alerts, now)
        good, total = slo_store.over_period(conn, slo, now)
        source = f"slo:{slo.app}:{slo.name}"
        live.add(source)
        on = any(b.firing for b in burns)
        hot += on
        raise_or_clear(conn, config, source, slo_alert(slo, burns, good, total, settings), on)
    for row in store.firing(conn, "slo"):
        if row["source_key"] not in live:
            gone = Alert(kind="slo", key=f"vigil-{row['source_key'].replace(':', '-')}",
                         app=row["app"], title="SLO removed from the SLO file")  # fmt: skip
            store.quiet(conn, row["source_key"], gone.resolved().model_dump())
    return hot


def _x(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1f}x"


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: list[str] = field(default_factory=list)  # "notice 4 to oncall: HTTP 400 ..."
    deferred: int = 0  # left pending: their destination failed earlier in this pass

    def line(self) -> str:
        return (f"{self.delivered} delivered, {len(self.failed)} failed, {self.deferred} "
                "deferred to the next pass")  # fmt: skip


def deliver(settings: Settings, config: AlertsFile, ids: list[int] | None = None,
            on_attempt: Any = None) -> DeliveryReport:  # fmt: skip
    """Send every pending notice (or those of ``ids``), oldest first. After a notice to a
    destination fails, the rest for it wait for the next pass instead of each spending
    its retries now."""
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
                if not _deliver_one(conn, log, client, settings, config, notice, report,
                                    on_attempt):  # fmt: skip
                    broken.add(notice["destination"])


def _deliver_one(conn: Conn, log: Conn, client: httpx.Client, settings: Settings,
                 config: AlertsFile, notice: dict[str, Any], report: DeliveryReport,
                 on_attempt: Any) -> bool:  # fmt: skip
    """Send one claimed notice and record its final state; True when delivered."""
    nid, name = notice["id"], notice["destination"]
    try:
        dest: Destination = config.get(name)
    except Exception as err:  # the destination was removed from the file since it queued
        store.finish(conn, nid, "failed", 0, None, str(err))
        report.failed.append(f"notice {nid} to {name}: {err}")
        return False

    def logged(attempt: Attempt) -> None:
        store.log_attempt(log, nid, attempt.number, attempt.status_code, attempt.error,
                          attempt.duration_ms)  # fmt: skip
        if on_attempt is not None:
            on_attempt(name, attempt)

    url, body, headers = render(dest, Alert.model_validate(notice["alert"]))
    last = send(client, url, body, headers, max_attempts=settings.alert_max_attempts,
                backoff_s=settings.alert_backoff_s, on_attempt=logged)  # fmt: skip
    status = "delivered" if last.ok else "failed"
    store.finish(conn, nid, status, last.number, last.status_code, last.error)
    if last.ok:
        report.delivered += 1
    else:
        report.failed.append(f"notice {nid} to {name}: {last.error} after {last.number} "
                             "attempt(s)")  # fmt: skip
    return last.ok
