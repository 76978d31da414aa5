"""Scores: one row per trace, evaluator and evaluator version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.models import Score


@dataclass(frozen=True)
class ScoreRow:
    """One score of a trace. Its app and ``trace_start`` (the trace's partition) are read
    from the trace by :func:`upsert_scores`, so every attempt keys on the same partition."""

    trace_id: str
    evaluator: str
    evaluator_version: str
    score: Score


def upsert_scores(conn: Conn, rows: list[ScoreRow], run_id: int | None) -> int:
    """Store scores exactly once per (trace, evaluator, version).

    A final score (scored or skipped) is never overwritten. An earlier ``error`` is replaced
    by the new attempt, and its attempt count goes up. Returns the number of rows written.
    A score of a trace that is not stored is refused (nothing is written).
    """
    if not rows:
        return 0
    ids = sorted({r.trace_id for r in rows})
    written = 0
    with conn.transaction():
        # The traces' ids stay locked until the scores commit: retention, which deletes the
        # ids before it rolls a week's scores up, waits for them, so no score slips past it.
        locked = conn.execute(
            "SELECT id FROM trace_ids WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", (ids,)
        )
        known = {r["id"] for r in locked}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise VigilError(
                f"Score for trace {unknown[0]}, which is not stored"
                + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                + ": store the trace first, or check that retention has not dropped it."
            )
        for batch in _rounds(rows):  # a key at most once a statement, as rows come in order
            cur = conn.execute(_UPSERT, {"run": run_id, **_score_arrays(batch)})
            written += max(cur.rowcount, 0)
    return written


_UPSERT = """
    INSERT INTO scores AS s (trace_id, app, trace_start, evaluator, evaluator_version, value,
                             label, measure, explanation, metadata, status, run_id)
    SELECT v.trace_id, k.app, k.part_time, v.evaluator, v.evaluator_version, v.value, v.label,
           v.measure, v.explanation, v.metadata, v.status, %(run)s
    FROM unnest(%(trace_id)s::text[], %(evaluator)s::text[], %(version)s::text[],
                %(value)s::float8[], %(label)s::text[], %(measure)s::float8[],
                %(explanation)s::text[], %(metadata)s::jsonb[], %(status)s::text[])
         AS v(trace_id, evaluator, evaluator_version, value, label, measure, explanation,
              metadata, status)
    JOIN trace_ids k ON k.id = v.trace_id
    ORDER BY v.trace_id, v.evaluator, v.evaluator_version
    ON CONFLICT (trace_id, evaluator, evaluator_version, trace_start) DO UPDATE SET
        value = EXCLUDED.value, label = EXCLUDED.label, measure = EXCLUDED.measure,
        explanation = EXCLUDED.explanation, metadata = EXCLUDED.metadata,
        status = EXCLUDED.status, run_id = EXCLUDED.run_id,
        attempts = s.attempts + 1, created_at = now()
    WHERE s.status = 'error'
"""


def _rounds(rows: list[ScoreRow]) -> list[list[ScoreRow]]:
    """``rows`` split so that a (trace, evaluator, version) appears at most once in each
    part, in order: ON CONFLICT DO UPDATE cannot touch a row twice in one statement."""
    rounds: list[list[ScoreRow]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for r in rows:
        key = (r.trace_id, r.evaluator, r.evaluator_version)
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(r)
    return rounds


def _score_arrays(rows: list[ScoreRow]) -> dict[str, list[object]]:
    return {
        "trace_id": [r.trace_id for r in rows],
        "evaluator": [r.evaluator for r in rows],
        "version": [r.evaluator_version for r in rows],
        "value": [r.score.value for r in rows],
        "label": [r.score.label for r in rows],
        "measure": [r.score.measure for r in rows],
        "explanation": [r.score.explanation for r in rows],
        "metadata": [Jsonb(r.score.metadata) for r in rows],
        "status": [r.score.status for r in rows],
    }


def scores_for_trace(conn: Conn, trace_id: str) -> list[dict]:
    return conn.execute(
        "SELECT evaluator, evaluator_version, status, value, label, measure, explanation, metadata,"
        " attempts, created_at FROM scores s JOIN trace_ids k ON k.id = s.trace_id"
        " AND k.part_time = s.trace_start WHERE k.id = %s ORDER BY evaluator",
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


def missing_score_sql(trace_id: str, part_time: str) -> str:
    """SQL predicate: the trace ``trace_id`` (a column) misses a final score from one of the
    evaluators in the named parameters ``names`` and ``versions`` (parallel arrays): it has
    none, or an error tried fewer than ``max_attempts`` times. ``part_time`` is the trace's
    partition (a column): each probe then reads one scores partition."""
    return f"""EXISTS (
        SELECT 1 FROM unnest(%(names)s::text[], %(versions)s::text[]) AS e(name, version)
        WHERE NOT EXISTS (
          SELECT 1 FROM scores s
          WHERE s.trace_id = {trace_id} AND s.trace_start = {part_time}
            AND s.evaluator = e.name
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
        "SELECT u.id FROM unnest(%(ids)s::text[]) AS u(id)"
        " LEFT JOIN trace_ids k ON k.id = u.id"
        f" WHERE {missing_score_sql('u.id', 'k.part_time')}",
        {"ids": trace_ids, **missing_params([(evaluator, evaluator_version)], max_attempts)},
    ).fetchall()
    return {r["id"] for r in rows}
