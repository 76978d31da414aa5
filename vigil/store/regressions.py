"""Regressions: one open row per key, refreshed while the incident lasts, resolved after
clean windows, reopened if it comes back. A key is (app, metric, evaluator, evaluator
version, segment); the trace metrics have an empty evaluator and version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.errors import VigilError

STATUSES = ("open", "acknowledged", "resolved")
_KEY = (
    "app = %(app)s AND metric = %(metric)s AND evaluator = %(evaluator)s"
    " AND evaluator_version = %(evaluator_version)s AND segment = %(segment)s"
)
_STATS = """window_start = %(window_start)s, window_end = %(window_end)s,
    baseline_start = %(baseline_start)s, baseline_end = %(baseline_end)s,
    window_mean = %(window_mean)s, baseline_mean = %(baseline_mean)s,
    window_n = %(window_n)s, baseline_n = %(baseline_n)s, delta = %(delta)s,
    p_value = %(p_value)s, q_value = %(q_value)s, effect = %(effect)s,
    attribution = %(attribution)s, evidence = %(evidence)s, headline = %(headline)s,
    last_seen = %(window_end)s, clean_windows = 0, updated_at = now(),
    run_id = COALESCE(%(run_id)s, run_id)"""


@dataclass
class Regression:
    app: str
    metric: str
    evaluator: str  # "" for trace metrics
    evaluator_version: str
    segment: dict[str, str]  # {} is the whole app
    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    baseline_end: datetime
    window_mean: float  # the metric's statistic: mean, rate or quantile
    baseline_mean: float
    window_n: int
    baseline_n: int
    delta: float  # window - baseline, in the metric's unit
    p_value: float
    q_value: float
    effect: float  # positive: worse (relative metrics: window / baseline - 1)
    headline: str = ""
    attribution: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def params(self, run_id: int | None) -> dict[str, Any]:
        values = dict(self.__dict__)
        for name in ("segment", "attribution", "evidence"):
            values[name] = Jsonb(values[name])
        return {**values, "run_id": run_id}


def record(conn: Conn, reg: Regression, run_id: int | None) -> int:
    """Store a finding: refresh the key's open row, else reopen its last resolved one, else
    open a new row. Returns the row's id. Call inside a transaction."""
    params = reg.params(run_id)
    for sql in (
        f"UPDATE regressions SET {_STATS} WHERE {_KEY} AND status <> 'resolved' RETURNING id",
        f"""UPDATE regressions SET {_STATS}, status = 'open', reopened = reopened + 1,
                resolved_at = NULL, resolved_by = NULL, acknowledged_by = NULL,
                acknowledged_at = NULL
            WHERE id = (SELECT id FROM regressions WHERE {_KEY} AND status = 'resolved'
                        ORDER BY last_seen DESC LIMIT 1) RETURNING id""",
        """INSERT INTO regressions (app, metric, evaluator, evaluator_version, segment,
               window_start, window_end, baseline_start, baseline_end, window_mean,
               baseline_mean, window_n, baseline_n, delta, p_value, q_value, effect,
               attribution, evidence, headline, first_seen, last_seen, run_id)
           VALUES (%(app)s, %(metric)s, %(evaluator)s, %(evaluator_version)s, %(segment)s,
               %(window_start)s, %(window_end)s, %(baseline_start)s, %(baseline_end)s,
               %(window_mean)s, %(baseline_mean)s, %(window_n)s, %(baseline_n)s, %(delta)s,
               %(p_value)s, %(q_value)s, %(effect)s, %(attribution)s, %(evidence)s,
               %(headline)s, %(window_start)s, %(window_end)s, %(run_id)s)
           RETURNING id""",
    ):
        row = conn.execute(sql, params).fetchone()
        if row is not None:
            return int(row["id"])
    raise AssertionError("an INSERT ... RETURNING returned no row")


def note_clean_window(
    conn: Conn, apps: list[str], seen: list[int], window_start: datetime, resolve_after: int
) -> list[int]:
    """Count ``window_start``'s window as clean for the apps' open regressions that this
    pass did not find again (``seen`` are the ids it did find), once per window; resolve
    those with ``resolve_after`` clean windows. Returns the ids resolved now."""
    conn.execute(
        """
        UPDATE regressions SET clean_windows = clean_windows + 1,
            last_clean_window = %(ws)s, updated_at = now()
        WHERE status <> 'resolved' AND app = ANY(%(apps)s) AND NOT (id = ANY(%(seen)s))
          AND window_start < %(ws)s
          AND (last_clean_window IS NULL OR last_clean_window < %(ws)s)
        """,
        {"apps": apps, "seen": seen, "ws": window_start},
    )
    rows = conn.execute(
        "UPDATE regressions SET status = 'resolved', resolved_at = now(), updated_at = now()"
        " WHERE status <> 'resolved' AND app = ANY(%s) AND clean_windows >= %s RETURNING id",
        (apps, resolve_after),
    ).fetchall()
    return [int(r["id"]) for r in rows]


def list_regressions(
    conn: Conn,
    *,
    app: str | None = None,
    status: str | None = None,
    limit: int = 200,
    apps: list[str] | None = None,
) -> list[dict]:
    """Newest first. ``apps`` limits the list to those apps (None: every app)."""
    if status is not None and status not in STATUSES:
        raise VigilError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
    return conn.execute(
        """
        SELECT r.*, (SELECT count(*) FROM review_items i WHERE i.regression_id = r.id
                     AND i.status = 'pending') AS pending_reviews
        FROM regressions r
        WHERE (%(status)s::text IS NULL OR r.status = %(status)s)
          AND (%(app)s::text IS NULL OR r.app = %(app)s)
          AND (%(apps)s::text[] IS NULL OR r.app = ANY(%(apps)s))
        ORDER BY r.last_seen DESC, r.id DESC LIMIT %(limit)s
        """,
        {"status": status, "app": app, "apps": apps, "limit": limit},
    ).fetchall()


def get_regression(conn: Conn, regression_id: int, apps: list[str] | None = None) -> dict:
    """One regression; with ``apps``, only if it belongs to one of them (the same error
    otherwise, so that a link does not tell whether another app's regression exists)."""
    row = conn.execute(
        "SELECT * FROM regressions WHERE id = %s AND (%s::text[] IS NULL OR app = ANY(%s))",
        (regression_id, apps, apps),
    ).fetchone()
    if row is None:
        raise VigilError(
            f"no regression #{regression_id}; `vigil regressions` lists them with their ids"
        )
    return row


def example_traces(conn: Conn, regression_id: int, limit: int = 10) -> list[dict]:
    """Traces that show the regression: the ones queued for review because of it, worst
    score first (with the review's status; an example whose trace retention dropped is
    still listed, without its start and input)."""
    return conn.execute(
        """
        SELECT i.trace_id, i.score, i.status AS review, t.start_time,
               left(t.input, 200) AS input
        FROM review_items i
        LEFT JOIN traces t ON t.id = i.trace_id AND t.part_time = i.part_time
        WHERE i.regression_id = %s
        ORDER BY i.score ASC NULLS LAST, t.start_time DESC, i.trace_id LIMIT %s
        """,
        (regression_id, limit),
    ).fetchall()


def _who(by: str) -> str:
    if not by.strip():
        raise VigilError("acknowledging or resolving needs a name: --by NAME")
    return by.strip()


def acknowledge(conn: Conn, regression_id: int, by: str) -> None:
    """Someone has seen it: it stays until it resolves, and reopens if it comes back."""
    by = _who(by)
    get_regression(conn, regression_id)
    conn.execute(
        "UPDATE regressions SET status = 'acknowledged', acknowledged_by = %s,"
        " acknowledged_at = now(), updated_at = now() WHERE id = %s AND status = 'open'",
        (by, regression_id),
    )


def set_regression_status(conn: Conn, regression_id: int, status: str, by: str) -> None:
    """A person sets the status; acknowledging and resolving record who and when."""
    if status not in STATUSES:
        raise VigilError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
    if status == "acknowledged":
        acknowledge(conn, regression_id, by)
        return
    by = _who(by)
    get_regression(conn, regression_id)
    conn.execute(
        "UPDATE regressions SET status = %(status)s, updated_at = now(),"
        " resolved_at = CASE WHEN %(status)s = 'resolved' THEN now() END,"
        " resolved_by = CASE WHEN %(status)s = 'resolved' THEN %(by)s END WHERE id = %(id)s",
        {"status": status, "by": by, "id": regression_id},
    )
