"""Scores: one row per trace, evaluator and evaluator version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.models import Score


@dataclass(frozen=True)
class ScoreRow:
    trace_id: str
    app: str
    trace_start: datetime
    evaluator: str
    evaluator_version: str
    score: Score


def upsert_scores(conn: Conn, rows: list[ScoreRow], run_id: int | None) -> int:
    """Store scores exactly once per (trace, evaluator, version).

    A final score (scored or skipped) is never overwritten. An earlier ``error`` is replaced
    by the new attempt, and its attempt count goes up. Returns the number of rows written.
    """
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO scores (trace_id, app, trace_start, evaluator, evaluator_version,
                                value, label, measure, explanation, metadata, status, run_id)
            VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)
            ON CONFLICT (trace_id, evaluator, evaluator_version) DO UPDATE SET
                value = EXCLUDED.value, label = EXCLUDED.label, measure = EXCLUDED.measure,
                explanation = EXCLUDED.explanation, metadata = EXCLUDED.metadata,
                status = EXCLUDED.status, run_id = EXCLUDED.run_id,
                attempts = scores.attempts + 1, created_at = now()
            WHERE scores.status = 'error'
            """,
            [
                (
                    r.trace_id,
                    r.app,
                    r.trace_start,
                    r.evaluator,
                    r.evaluator_version,
                    r.score.value,
                    r.score.label,
                    r.score.measure,
                    r.score.explanation,
                    Jsonb(r.score.metadata),
                    r.score.status,
                    run_id,
                )
                for r in rows
            ],
        )
        return max(cur.rowcount, 0)


def scores_for_trace(conn: Conn, trace_id: str) -> list[dict]:
    return conn.execute(
        "SELECT evaluator, evaluator_version, status, value, label, measure, explanation, metadata,"
        " attempts, created_at FROM scores WHERE trace_id = %s ORDER BY evaluator",
        (trace_id,),
    ).fetchall()


def daily_means(conn: Conn, start: datetime, end: datetime, app: str | None = None) -> list[dict]:
    """Mean score and count per day, app and evaluator, for charts."""
    return conn.execute(
        """
        SELECT date_trunc('day', trace_start) AS day, app, evaluator, evaluator_version,
               avg(value) AS mean, count(*) AS n
        FROM scores
        WHERE status = 'scored' AND value IS NOT NULL
          AND trace_start >= %(start)s AND trace_start < %(end)s
          AND (%(app)s::text IS NULL OR app = %(app)s)
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3
        """,
        {"start": start, "end": end, "app": app},
    ).fetchall()


def status_counts(conn: Conn) -> dict[str, int]:
    rows = conn.execute("SELECT status, count(*) AS n FROM scores GROUP BY status").fetchall()
    return {r["status"]: int(r["n"]) for r in rows}


def missing_score_sql(trace_id: str) -> str:
    """SQL predicate: the trace ``trace_id`` (a column) misses a final score from one of the
    evaluators in the named parameters ``names`` and ``versions`` (parallel arrays): it has
    none, or an error tried fewer than ``max_attempts`` times."""
    return f"""EXISTS (
        SELECT 1 FROM unnest(%(names)s::text[], %(versions)s::text[]) AS e(name, version)
        WHERE NOT EXISTS (
          SELECT 1 FROM scores s
          WHERE s.trace_id = {trace_id} AND s.evaluator = e.name
            AND s.evaluator_version = e.version
            AND (s.status <> 'error' OR s.attempts >= %(max_attempts)s)))"""


def missing_params(evaluators: list[tuple[str, str]], max_attempts: int) -> dict[str, object]:
    """The parameters :func:`missing_score_sql` names."""
    return {
        "names": [n for n, _ in evaluators],
        "versions": [v for _, v in evaluators],
        "max_attempts": max_attempts,
    }


def needing_score(
    conn: Conn,
    trace_ids: list[str],
    evaluator: str,
    evaluator_version: str,
    max_attempts: int = 3,
) -> set[str]:
    """Which of ``trace_ids`` still need this evaluator: no score, or a retryable error.

    The same predicate as the sampling and claim queries (:func:`missing_score_sql`), for a
    single evaluator, so the rule for "still needs a score" is written once.
    """
    rows = conn.execute(
        f"SELECT u.id FROM unnest(%(ids)s::text[]) AS u(id) WHERE {missing_score_sql('u.id')}",
        {"ids": trace_ids, **missing_params([(evaluator, evaluator_version)], max_attempts)},
    ).fetchall()
    return {r["id"] for r in rows}
