"""Which alerts to queue, and when: regressions and SLO burns (canaries in
:mod:`flows.canaries`), queued with the state they report.

Queueing happens inside the detection pass's transaction (:func:`queue_alerts`), so a
regression and its trigger are committed together, or neither. Sending happens after the
commit (:mod:`flows.alert_delivery`, in the ``deliver-alerts`` task): a destination that
is down or refuses never blocks detection or scoring. Plain functions, no Prefect: the
CLI imports them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from vigil.alerts import Alert, AlertsFile, load_alerts
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


def regression_alert(row: dict[str, Any], settings: Settings,
                     flow_run_id: str | None = None) -> Alert:  # fmt: skip
    """The alert of a regression row (with its run's ``flow_run_id``); ``flow_run_id``
    is the Prefect run to link when the row has none (a pass of the ``detect`` flow)."""
    metric = row["metric"] + (f" ({row['evaluator']})" if row["evaluator"] else "")
    links = {"regression": f"{settings.ui_address}/regressions?regression={row['id']}"}
    run = row.get("flow_run_id") or flow_run_id
    if run:
        links["prefect run"] = f"{settings.prefect_ui}/runs/flow-run/{run}"
    if row.get("example_trace"):
        links["worst trace"] = f"{settings.ui_address}/traces?trace={quote(row['example_trace'])}"
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


def sync_regressions(conn: Conn, config: AlertsFile, settings: Settings, now: datetime,
                     flow_run_id: str | None = None) -> None:  # fmt: skip
    """Page each unresolved regression last seen within ``VIGIL_ALERT_MAX_AGE_HOURS`` once,
    and resolve the pages of those that resolved. Older ones (a backfill of the past)
    are recorded without a page. Call in the detection pass's transaction."""
    recent = now - timedelta(hours=settings.alert_max_age_hours)
    for row in store.regressions_unresolved(conn):
        if row["last_seen"] >= recent:
            alert = regression_alert(row, settings, flow_run_id)
            raise_or_clear(conn, config, f"regression:{row['id']}", alert, True)
    for row in store.regressions_quieted(conn):
        alert = regression_alert(row, settings, flow_run_id)
        raise_or_clear(conn, config, f"regression:{row['id']}", alert, False)


SLO_RECENT = timedelta(hours=1)


def queue_alerts(conn: Conn, settings: Settings, end: datetime, now: datetime,
                 warn: Callable[[str], None], flow_run_id: str | None = None) -> None:  # fmt: skip
    """Queue what a detection pass ending at ``end`` calls for, in its transaction: the
    regressions' pages and resolves, and, when the pass is about now (not a backfilled
    past), the SLOs' burn alerts. Nothing here fails the pass: a broken alerts or SLO file,
    or an error while queueing, is reported through ``warn`` and rolled back to a
    savepoint. The next pass catches up, since it reconciles every unresolved regression
    (and ``deliver-alerts`` fails on a broken alerts file, so it shows)."""
    try:
        config = destinations(settings)
    except VigilError as err:
        warn(f"alerts not queued by this pass: {err}")
        return
    if config is None:
        return
    store.lock(conn)
    guarded(conn, warn, "regression alerts",
             lambda: sync_regressions(conn, config, settings, now, flow_run_id))  # fmt: skip
    if settings.slo_file is None or now - end >= SLO_RECENT:
        return
    try:
        parsed = load_slos(settings.slo_file)
    except VigilError as err:
        warn(f"SLO burn alerts not checked by this pass: {err}")
        return
    guarded(conn, warn, "SLO burn alerts",
             lambda: sync_slos(conn, config, parsed, settings, now))  # fmt: skip


def guarded(conn: Conn, warn: Callable[[str], None], what: str,
             step: Callable[[], object]) -> None:  # fmt: skip
    """Run ``step`` in a savepoint; an error undoes the step alone, and is reported."""
    try:
        with conn.transaction():
            step()
    except Exception as err:
        warn(f"{what} not queued by this pass: {type(err).__name__}: {err}")


def slo_alert(slo: SLO, burns: list[Burn], good: int, total: int, settings: Settings) -> Alert:
    hot = [b for b in burns if b.firing] or burns
    rates = "; ".join(f"{b.pair.long}/{b.pair.short} at {_x(b.long_rate)}/{_x(b.short_rate)} "
                      f"(alert at {b.pair.factor:g}x)" for b in hot)  # fmt: skip
    page = any(b.firing and b.pair.severity == "page" for b in burns)
    return Alert(
        kind="slo",
        key=slo_key(slo.app, slo.name),
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


def slo_key(app: str, name: str) -> str:
    """PagerDuty's dedup_key of an SLO: unambiguous, and within its 255 characters."""
    key = f"vigil:slo:{app}:{name}"
    return key if len(key) <= 255 else f"vigil:slo:{hashlib.sha256(key.encode()).hexdigest()}"


def sync_slos(conn: Conn, config: AlertsFile, parsed: SLOFile, settings: Settings,
              now: datetime) -> int:  # fmt: skip
    """Fire each SLO with a burning window pair, quiet the others; returns how many fire.

    A pair with an empty window cannot tell, so a firing SLO is quieted only when some
    pair can tell it is not burning, or when no pair has events in its long window any
    more: a sparse 5-minute window must not resolve and re-page an ongoing burn. The SLOs
    no longer in the file are quieted too."""
    live, hot = set(), 0
    for slo in parsed.slos:
        burns = slo_store.burns(conn, slo, parsed.burn_alerts, now)
        good, total = slo_store.over_period(conn, slo, now)
        source = f"slo:{slo.app}:{slo.name}"
        live.add(source)
        on = any(b.firing for b in burns)
        hot += on
        told = any(b.long_rate is not None and b.short_rate is not None for b in burns)
        silent = all(b.long_rate is None for b in burns)
        if on or told or silent:
            alert = slo_alert(slo, burns, good, total, settings)
            raise_or_clear(conn, config, source, alert, on)
    for row in store.firing(conn, "slo"):
        if row["source_key"] not in live:
            _, app, name = row["source_key"].split(":", 2)
            gone = Alert(kind="slo", key=slo_key(app, name), app=row["app"],
                         title=f"SLO {name} removed from the SLO file")  # fmt: skip
            store.quiet(conn, row["source_key"], gone.resolved().model_dump())
    return hot


def _x(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1f}x"
