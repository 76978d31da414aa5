"""Regressions: windows whose scores fell below their baseline, and the statistics behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn


@dataclass(frozen=True)
class WindowStats:
    app: str
    evaluator: str
    evaluator_version: str
    window_n: int
    window_mean: float | None
    window_var: float | None
    baseline_n: int
    baseline_mean: float | None
    baseline_var: float | None


@dataclass
class Regression:
    app: str
    evaluator: str
    evaluator_version: str
    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    baseline_end: datetime
    window_mean: float
    baseline_mean: float
    window_n: int
    baseline_n: int
    delta: float
    z: float
    segment: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)


def window_stats(
    conn: Conn,
    window: tuple[datetime, datetime],
    baseline: tuple[datetime, datetime],
    app: str | None = None,
) -> list[WindowStats]:
    """Count, mean and variance of scored values in the window and in the baseline."""
    rows = conn.execute(
        """
        SELECT app, evaluator, evaluator_version,
          count(*) FILTER (WHERE in_window) AS window_n,
          avg(value) FILTER (WHERE in_window) AS window_mean,
          var_samp(value) FILTER (WHERE in_window) AS window_var,
          count(*) FILTER (WHERE in_base) AS baseline_n,
          avg(value) FILTER (WHERE in_base) AS baseline_mean,
          var_samp(value) FILTER (WHERE in_base) AS baseline_var
        FROM (
          SELECT app, evaluator, evaluator_version, value,
                 trace_start >= %(ws)s AND trace_start < %(we)s AS in_window,
                 trace_start >= %(bs)s AND trace_start < %(be)s AS in_base
          FROM scores
          WHERE status = 'scored' AND value IS NOT NULL
            AND (%(app)s::text IS NULL OR app = %(app)s)
            AND ((trace_start >= %(ws)s AND trace_start < %(we)s)
              OR (trace_start >= %(bs)s AND trace_start < %(be)s))
        ) s
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """,
        {"ws": window[0], "we": window[1], "bs": baseline[0], "be": baseline[1], "app": app},
    ).fetchall()
    return [WindowStats(**r) for r in rows]


SEGMENT_DIMENSIONS = {
    "prompt_version": "t.prompt_version",
    "model": "t.model",
    "route": "t.segment->>'route'",
}


def segment_means(
    conn: Conn,
    app: str,
    evaluator: str,
    evaluator_version: str,
    window: tuple[datetime, datetime],
    dimension: str,
) -> list[dict]:
    """Mean score per value of one segment dimension in a window (for attribution)."""
    expr = SEGMENT_DIMENSIONS[dimension]
    return conn.execute(
        f"""
        SELECT coalesce({expr}, '(none)') AS value, avg(s.value) AS mean, count(*) AS n
        FROM scores s JOIN traces t ON t.id = s.trace_id
        WHERE s.app = %s AND s.evaluator = %s AND s.evaluator_version = %s
          AND s.status = 'scored' AND s.value IS NOT NULL
          AND s.trace_start >= %s AND s.trace_start < %s
        GROUP BY 1 ORDER BY 2
        """,
        (app, evaluator, evaluator_version, window[0], window[1]),
    ).fetchall()


def upsert_regression(conn: Conn, reg: Regression, run_id: int | None) -> int:
    """Insert, or refresh the statistics of, the regression of this window. Returns its id.
    A refresh without a run (the ``detect`` flow alone) keeps the run that found it."""
    row = conn.execute(
        """
        INSERT INTO regressions (app, evaluator, evaluator_version, segment, window_start,
            window_end, baseline_start, baseline_end, window_mean, baseline_mean, window_n,
            baseline_n, delta, z, evidence, run_id)
        VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)
        ON CONFLICT (app, evaluator, evaluator_version, segment, window_start) DO UPDATE SET
            window_end = EXCLUDED.window_end, window_mean = EXCLUDED.window_mean,
            baseline_mean = EXCLUDED.baseline_mean, window_n = EXCLUDED.window_n,
            baseline_n = EXCLUDED.baseline_n, delta = EXCLUDED.delta, z = EXCLUDED.z,
            evidence = EXCLUDED.evidence, updated_at = now(),
            run_id = COALESCE(EXCLUDED.run_id, regressions.run_id)  -- detect alone keeps it
        RETURNING id
        """,
        (
            reg.app,
            reg.evaluator,
            reg.evaluator_version,
            Jsonb(reg.segment),
            reg.window_start,
            reg.window_end,
            reg.baseline_start,
            reg.baseline_end,
            reg.window_mean,
            reg.baseline_mean,
            reg.window_n,
            reg.baseline_n,
            reg.delta,
            reg.z,
            Jsonb(reg.evidence),
            run_id,
        ),
    ).fetchone()
    assert row is not None
    return int(row["id"])


def list_regressions(conn: Conn, *, status: str | None = None, limit: int = 200) -> list[dict]:
    return conn.execute(
        """
        SELECT r.*, (SELECT count(*) FROM review_items i WHERE i.regression_id = r.id
                     AND i.status = 'pending') AS pending_reviews
        FROM regressions r
        WHERE (%(status)s::text IS NULL OR r.status = %(status)s)
        ORDER BY r.window_start DESC, r.id DESC LIMIT %(limit)s
        """,
        {"status": status, "limit": limit},
    ).fetchall()


def set_regression_status(conn: Conn, regression_id: int, status: str) -> None:
    conn.execute(
        "UPDATE regressions SET status = %s, updated_at = now() WHERE id = %s",
        (status, regression_id),
    )
