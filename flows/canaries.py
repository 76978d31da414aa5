"""Canary comparison: a live segment (``prompt_version=v4``) against its control over the
same window, with the detector's tests (:mod:`vigil.detection.compare`).

``vigil compare`` runs :func:`compare_live` once. :func:`check_canaries` runs it for every
live canary (``vigil canary start``) and alerts when one turns worse: one trigger while it
stays worse, one resolve when it no longer is or is stopped. The ``canary`` flow
(:mod:`flows.canary`) calls it on a schedule. Plain functions, no Prefect.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flows import alerting
from flows.detection import Policy
from vigil.alerts import Alert, AlertsFile
from vigil.db import connect, database_url
from vigil.db.types import Conn
from vigil.detection import app_window
from vigil.detection.compare import MetricVerdict, compare_segments
from vigil.errors import VigilError
from vigil.settings import Settings
from vigil.store import alerts as store
from vigil.store import canaries
from vigil.store import detection as det_store

NO_FOLD = 1_000_000  # every segment value is kept: a canary may be a small one
LOOKBACK = timedelta(days=1)  # a canary older than this is judged on its last day


def segment_text(segment: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items())


def compare_live(
    conn: Conn,
    app: str,
    canary: dict[str, str],
    control: dict[str, str],
    start: datetime,
    end: datetime,
    policy: Policy,
) -> list[MetricVerdict]:
    """Every metric both segments have enough traces of in [start, end), with a verdict.
    A segment no trace has, or too few traces on a side, is a clear error."""
    rows = det_store.window_traces(conn, app, (start, end), (start, start), policy.max_traces)
    scores = det_store.window_scores(conn, [r["id"] for r in rows], start)
    aw = app_window(app, rows, scores, NO_FOLD)
    for side, seg in (("--segment", canary), ("--against", control)):
        for key, value in seg.items():
            if key not in aw.dims or not (aw.dims[key] == value).any():
                raise VigilError(
                    f"{side} {key}={value}: no trace of app {app!r} has it between "
                    f"{start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC; check the app, the "
                    "segment and --start/--end (`vigil regressions` and the app show segments)"
                )
    verdicts = compare_segments(aw, canary, control, policy.limits)
    if not verdicts:
        raise VigilError(
            f"too few traces to compare: each side needs {policy.limits.min_window_n} with a "
            "metric (VIGIL_DETECT_MIN_WINDOW_N); widen --start/--end"
        )
    return verdicts


def canary_alert(row: dict[str, Any], worse: list[MetricVerdict], settings: Settings,
                 run_id: str | None) -> Alert:  # fmt: skip
    first = worse[0] if worse else None
    names = ", ".join(v.name for v in worse) or "none"
    links = {"regressions": f"{settings.ui_address}/regressions"}
    if run_id:
        links["prefect run"] = f"{settings.prefect_ui}/runs/flow-run/{run_id}"
    return Alert(
        kind="canary",
        key=f"vigil-canary-{row['id']}",
        app=row["app"],
        title=f"canary {segment_text(row['segment'])} is worse than "
              f"{segment_text(row['against'])} on {names}",
        metric=first.name if first else "",
        segment=row["segment"],
        attribution=[f"{v.name}: {v.control:.4g} -> {v.canary:.4g} (q {v.q_worse:.2g}, "
                     f"n {v.n_canary}/{v.n_control})" for v in worse],
        before=first.control if first else None,
        after=first.canary if first else None,
        details={"canary": row["id"], "control": segment_text(row["against"])},
        links=links,
    )  # fmt: skip


def check_canaries(settings: Settings, now: datetime, app: str | None = None,
                   logger: Any = None, run_id: str | None = None) -> dict[int, str]:  # fmt: skip
    """Compare each live canary over its life (its last day at most) and record the
    verdict; then fire or quiet each one's alert, and quiet those of canaries no longer
    live. Returns each canary's verdict: worse, not worse, or why it could not be told.
    A broken alerts file or an error while queueing is logged, never losing a verdict."""
    policy = Policy.from_settings(settings)
    warn = logger.warning if logger is not None else (lambda message: None)
    out: dict[int, str] = {}
    alerts: list[tuple[str, Alert, bool]] = []
    with connect(database_url(settings, start=False)) as conn, conn.transaction():
        for row in canaries.live(conn, app):
            start = max(row["started_at"], now - LOOKBACK)
            try:
                worse = [v for v in compare_live(conn, row["app"], row["segment"],
                         row["against"], start, now, policy) if v.verdict == "worse"]  # fmt: skip
                verdict = "worse" if worse else "not worse"
            except VigilError as err:  # too early to tell: not an alert, not a failure
                worse, verdict = [], f"undecided: {err}"
            canaries.note_verdict(conn, row["id"], verdict, now)
            out[row["id"]] = verdict
            if logger is not None:
                logger.info("canary #%d %s: %s", row["id"], segment_text(row["segment"]), verdict)
            if not verdict.startswith("undecided"):
                alerts.append((f"canary:{row['id']}", canary_alert(row, worse, settings, run_id),
                               bool(worse)))  # fmt: skip
        try:
            config = alerting.destinations(settings)
        except VigilError as err:
            warn(f"canary alerts not queued: {err}")
            return out
        if config is not None:
            store.lock(conn)
            alerting.guarded(conn, warn, "canary alerts",
                             lambda: _sync(conn, config, alerts, settings, run_id))  # fmt: skip
    return out


def _sync(conn: Conn, config: AlertsFile, alerts: list[tuple[str, Alert, bool]],
          settings: Settings, run_id: str | None) -> None:
    for source, alert, on in alerts:
        alerting.raise_or_clear(conn, config, source, alert, on)
    live = {source for source, _, _ in alerts}
    for state in store.firing(conn, "canary"):
        if state["source_key"] not in live:  # stopped, or undecided since
            row = canaries.get(conn, int(state["source_key"].split(":")[1]))
            if row["stopped_at"] is not None:
                alerting.raise_or_clear(conn, config, state["source_key"],
                                        canary_alert(row, [], settings, run_id), False)  # fmt: skip
