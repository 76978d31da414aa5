"""Reviewers' labels beside the evaluators' scores of the same traces, for the Evaluators
page (the agreement math is ``evaluators.agreement``)."""

from __future__ import annotations

from datetime import datetime

from vigil.db.types import Conn


def labelled_scores(
    conn: Conn, start: datetime, end: datetime, apps: list[str] | None = None,
    audit_only: bool = False,
) -> list[dict]:  # fmt: skip
    """Each labelled trace started in [start, end) with each of its [0, 1] scores: app,
    evaluator, evaluator_version, week (the trace's, Monday 00:00 UTC), value, label.

    A trace labelled more than once (an audit item and a regression's) counts with its
    latest label. ``audit_only``: only the daily audit sample, which no score picked,
    so that precision and recall are not skewed towards the worst scores.
    """
    return conn.execute(
        """
        WITH i AS MATERIALIZED (
            SELECT DISTINCT ON (trace_id) trace_id, label FROM review_items
            WHERE status = 'labeled' AND (NOT %(audit)s OR audit_day IS NOT NULL)
            ORDER BY trace_id, labeled_at DESC, id DESC)
        SELECT s.app, s.evaluator, s.evaluator_version,
               date_trunc('week', s.trace_start, 'UTC') AS week, s.value, i.label
        FROM scores s JOIN i ON i.trace_id = s.trace_id
        WHERE s.trace_id = ANY(ARRAY(SELECT trace_id FROM i))  -- probes by trace, no scan
          AND s.status = 'scored' AND s.value IS NOT NULL
          AND s.trace_start >= %(start)s AND s.trace_start < %(end)s
          AND (%(apps)s::text[] IS NULL OR s.app = ANY(%(apps)s))
        ORDER BY s.evaluator, s.evaluator_version, week
        """,
        {"start": start, "end": end, "apps": apps, "audit": audit_only},
    ).fetchall()
