"""Evaluation runs and their progress counters."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from vigil.db.types import Conn

RunKind = Literal["window", "backfill", "adhoc"]


def start_run(
    conn: Conn,
    *,
    kind: RunKind,
    window_start: datetime,
    window_end: datetime,
    evaluators: list[str],
    app: str | None = None,
    flow_run_id: str | None = None,
    traces_total: int = 0,
) -> int:
    row = conn.execute(
        "INSERT INTO eval_runs (kind, flow_run_id, app, window_start, window_end, evaluators,"
        " traces_total) VALUES (%s,%s,%s,%s,%s,%s,%s) RETURNING id",
        (kind, flow_run_id, app, window_start, window_end, evaluators, traces_total),
    ).fetchone()
    assert row is not None
    return int(row["id"])


def add_progress(
    conn: Conn,
    run_id: int,
    *,
    done: int,
    scored: int,
    skipped: int,
    errors: int,
    cost_usd: float = 0.0,
    judge_tokens: int = 0,
) -> None:
    conn.execute(
        "UPDATE eval_runs SET traces_done = traces_done + %s, scored = scored + %s,"
        " skipped = skipped + %s, errors = errors + %s, cost_usd = cost_usd + %s,"
        " judge_tokens = judge_tokens + %s, updated_at = now() WHERE id = %s",
        (done, scored, skipped, errors, cost_usd, judge_tokens, run_id),
    )


def add_total(conn: Conn, run_id: int, traces: int) -> None:
    """Traces a run has picked (it picks app by app)."""
    conn.execute(
        "UPDATE eval_runs SET traces_total = traces_total + %s, updated_at = now() WHERE id = %s",
        (traces, run_id),
    )


def finish_run(conn: Conn, run_id: int, status: str, message: str | None = None) -> None:
    conn.execute(
        "UPDATE eval_runs SET status = %s, message = %s, finished_at = now(), updated_at = now()"
        " WHERE id = %s",
        (status, message, run_id),
    )


def recent_runs(conn: Conn, limit: int = 20, apps: list[str] | None = None) -> list[dict]:
    """Newest first. ``apps`` keeps the runs of those apps only (None: every run, for an
    admin). A run over every app (``app IS NULL``) counts, errors and costs the traces of
    all apps, so only an admin sees it."""
    return conn.execute(
        "SELECT id, kind, app, window_start, window_end, status, traces_total, traces_done,"
        " scored, skipped, errors, cost_usd, judge_tokens, evaluators, started_at, finished_at,"
        " updated_at, message, flow_run_id"
        " FROM eval_runs WHERE %(apps)s::text[] IS NULL OR app = ANY(%(apps)s)"
        " ORDER BY started_at DESC, id DESC LIMIT %(limit)s",
        {"apps": apps, "limit": limit},
    ).fetchall()


def progress_since(conn: Conn, since: datetime) -> dict:
    """Totals over runs started since ``since`` (for a progress display)."""
    row = conn.execute(
        "SELECT coalesce(sum(traces_total), 0) AS total, coalesce(sum(traces_done), 0) AS done,"
        " count(*) FILTER (WHERE status = 'running') AS running,"
        " count(*) FILTER (WHERE status = 'failed') AS failed"
        " FROM eval_runs WHERE started_at >= %s",
        (since,),
    ).fetchone()
    assert row is not None
    return dict(row)


def finished_since(
    conn: Conn, since: datetime, kind: str | None = None, status: str | None = None
) -> int:
    """Runs started since ``since`` that ended (with ``status``, when given)."""
    row = conn.execute(
        "SELECT count(*) AS n FROM eval_runs WHERE started_at >= %s AND status <> 'running'"
        " AND (%s::text IS NULL OR kind = %s) AND (%s::text IS NULL OR status = %s)",
        (since, kind, kind, status, status),
    ).fetchone()
    return int(row["n"]) if row else 0


def totals_since(conn: Conn, since: datetime) -> dict:
    """Counts over runs started since ``since``, and the regressions they found."""
    row = conn.execute(
        """
        SELECT coalesce(sum(traces_done), 0) AS traces, coalesce(sum(scored), 0) AS scored,
               coalesce(sum(skipped), 0) AS skipped, coalesce(sum(errors), 0) AS errors,
               coalesce(sum(cost_usd), 0) AS cost_usd,
               (SELECT count(DISTINCT r.id) FROM regressions r
                 JOIN eval_runs e ON e.id = r.run_id WHERE e.started_at >= %(since)s)
                 AS regressions
        FROM eval_runs WHERE started_at >= %(since)s
        """,
        {"since": since},
    ).fetchone()
    assert row is not None
    return dict(row)


def totals_of_flow_runs(conn: Conn, flow_run_ids: list[str]) -> dict:
    """Counts over the evaluation runs of these Prefect flow runs (a backfill's chunk runs,
    crashed attempts included), and the regressions they found."""
    row = conn.execute(
        """
        SELECT count(*) AS runs, coalesce(sum(traces_done), 0) AS traces,
               coalesce(sum(scored), 0) AS scored, coalesce(sum(skipped), 0) AS skipped,
               coalesce(sum(errors), 0) AS errors, coalesce(sum(cost_usd), 0) AS cost_usd,
               coalesce((SELECT array_agg(DISTINCT r.id ORDER BY r.id) FROM regressions r
                 JOIN eval_runs e ON e.id = r.run_id WHERE e.flow_run_id = ANY(%(ids)s)),
                 '{}') AS regressions
        FROM eval_runs WHERE flow_run_id = ANY(%(ids)s)
        """,
        {"ids": flow_run_ids},
    ).fetchone()
    assert row is not None
    return dict(row)


def fail_flow_run(conn: Conn, flow_run_id: str, message: str) -> int:
    """Mark the still-running evaluation runs of a flow run whose process died as failed
    (their committed batches stay; what they held is free again). Returns how many."""
    return conn.execute(
        "UPDATE eval_runs SET status = 'failed', message = %s, finished_at = now(),"
        " updated_at = now() WHERE flow_run_id = %s AND status = 'running'",
        (message, flow_run_id),
    ).rowcount
