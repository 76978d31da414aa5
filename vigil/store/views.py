"""Read-only summaries for the UI's Overview. Every query takes ``apps``: the apps the
viewer may see (None: every app). Buckets are hours or days in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from vigil.db.types import Conn
from vigil.store import partitions
from vigil.store.rollups import LATENCY_BIN

Bucket = Literal["hour", "day"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day")


@dataclass(frozen=True)
class Headline:
    traces: int
    apps: int
    open_regressions: int
    pending_reviews: int
    labeled_reviews: int


def _bucket(bucket: Bucket) -> str:
    if bucket not in BUCKETS:
        raise ValueError(f"bucket {bucket!r}: use one of {', '.join(BUCKETS)}")
    return bucket


def app_names(conn: Conn) -> list[str]:
    """Apps with completed traces, from the daily rollup (so an app whose traces retention
    dropped still has its charts), read as a skip scan over its (app, day, ...) key."""
    rows = conn.execute(
        """
        WITH RECURSIVE a(app) AS (
            (SELECT app FROM trace_daily ORDER BY app LIMIT 1)
            UNION ALL
            SELECT (SELECT d.app FROM trace_daily d WHERE d.app > a.app ORDER BY d.app LIMIT 1)
            FROM a WHERE a.app IS NOT NULL)
        SELECT app FROM a WHERE app IS NOT NULL
        """
    ).fetchall()
    return [r["app"] for r in rows]


def headline(conn: Conn, apps: list[str] | None = None) -> Headline:
    """Totals for the apps: traces stored, open regressions, review queue state."""
    row = conn.execute(
        """
        SELECT (SELECT count(*) FROM traces
                WHERE %(apps)s::text[] IS NULL OR app = ANY(%(apps)s)) AS traces,
               (SELECT count(*) FROM regressions WHERE status = 'open'
                  AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))) AS open_regressions,
               (SELECT count(*) FILTER (WHERE i.status = 'pending') AS pending
                FROM review_items i
                WHERE %(apps)s::text[] IS NULL OR i.app = ANY(%(apps)s)) AS pending_reviews,
               (SELECT count(*) FILTER (WHERE i.status = 'labeled')
                FROM review_items i
                WHERE %(apps)s::text[] IS NULL OR i.app = ANY(%(apps)s)) AS labeled_reviews
        """,
        {"apps": apps},
    ).fetchone()
    assert row is not None
    return Headline(
        traces=int(row["traces"]),
        apps=len(apps) if apps is not None else len(app_names(conn)),
        open_regressions=int(row["open_regressions"]),
        pending_reviews=int(row["pending_reviews"]),
        labeled_reviews=int(row["labeled_reviews"]),
    )


def _days(start: datetime, end: datetime) -> dict[str, date]:
    """The UTC days a daily read covers: from ``start``'s day to the one before ``end``."""
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    return {"first": start.astimezone(UTC).date(), "last": last}


def status_counts(
    conn: Conn, start: datetime, end: datetime, bucket: Bucket, apps: list[str] | None = None
) -> dict[str, int]:
    """Scores by status (scored, skipped, error) of traces started in the range: with
    ``day``, the whole UTC days it touches, from the rollups. Errors come from ``scores``
    (a retry may still replace one), or, for days whose traces retention dropped (no retry
    can come), from ``score_segment_daily``, rolled up when they dropped."""
    kept = partitions.kept_from(conn)["traces"]
    params = {"start": start, "end": end, "apps": apps, "kept": kept, **_days(start, end)}
    if _bucket(bucket) == "hour":
        query = """
            SELECT status, count(*) AS n FROM scores
            WHERE trace_start >= %(start)s AND trace_start < %(end)s
              AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
            GROUP BY status"""
    else:
        query = """
            SELECT status, sum(n) AS n FROM score_daily
            WHERE day BETWEEN %(first)s AND %(last)s
              AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
            GROUP BY status
            UNION ALL
            SELECT 'error', sum(errors) FROM score_segment_daily
            WHERE seg_key = '' AND day BETWEEN %(first)s AND %(last)s
              AND day < (%(kept)s::timestamptz AT TIME ZONE 'UTC')::date
              AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
            UNION ALL
            SELECT 'error', count(*) FROM scores
            WHERE status = 'error'
              AND trace_start >= greatest(%(first)s::timestamp AT TIME ZONE 'UTC',
                                         %(kept)s::timestamptz)
              AND trace_start < (%(last)s + 1)::timestamp AT TIME ZONE 'UTC'
              AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))"""
    counts: dict[str, int] = {}
    for r in conn.execute(query, params).fetchall():
        counts[r["status"]] = counts.get(r["status"], 0) + int(r["n"] or 0)
    return counts


def quality(
    conn: Conn, start: datetime, end: datetime, bucket: Bucket, apps: list[str] | None = None
) -> list[dict]:
    """Mean [0, 1] score and count per bucket, evaluator and evaluator version (``day``:
    from the rollup, over the whole UTC days the range touches)."""
    params = {"start": start, "end": end, "apps": apps, **_days(start, end)}
    if _bucket(bucket) == "hour":
        query = """
            SELECT date_trunc('hour', trace_start, 'UTC') AS bucket, evaluator,
                   evaluator_version, avg(value) AS mean, count(*) AS n
            FROM scores
            WHERE status = 'scored' AND value IS NOT NULL
              AND trace_start >= %(start)s AND trace_start < %(end)s
              AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
    else:
        query = """
            SELECT day::timestamp AT TIME ZONE 'UTC' AS bucket, evaluator, evaluator_version,
                   sum(total) / sum(valued) AS mean, sum(valued) AS n
            FROM score_daily
            WHERE status = 'scored' AND valued > 0 AND day BETWEEN %(first)s AND %(last)s
              AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
    return conn.execute(query, params).fetchall()


def traffic(
    conn: Conn, start: datetime, end: datetime, bucket: Bucket, apps: list[str] | None = None
) -> list[dict]:
    """Requests, mean cost per request (USD, of those with a cost) and p95 latency (ms)
    per bucket: ``hour`` reads ``traces`` (``percentile_cont``); ``day`` the rollups of
    completed traces, the p95 from 2%-wide latency bins (the bin's geometric middle)."""
    params = {"start": start, "end": end, "apps": apps, **_days(start, end)}
    if _bucket(bucket) == "hour":
        query = """
            SELECT date_trunc('hour', start_time, 'UTC') AS bucket, count(*) AS requests,
                   avg(cost_usd) AS cost_per_request,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms
            FROM traces
            WHERE start_time >= %(start)s AND start_time < %(end)s AND part_time >= %(start)s
              AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
            GROUP BY 1 ORDER BY 1"""
    else:
        query = f"""
            WITH t AS (
                SELECT day, sum(requests) AS requests,
                       sum(cost_usd) / nullif(sum(costed), 0) AS cost_per_request
                FROM trace_daily
                WHERE day BETWEEN %(first)s AND %(last)s
                  AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
                GROUP BY day),
            bins AS (
                SELECT day, bin, sum(n) AS n FROM latency_daily
                WHERE day BETWEEN %(first)s AND %(last)s
                  AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
                GROUP BY day, bin),
            cum AS (
                SELECT day, bin, sum(n) OVER (PARTITION BY day ORDER BY bin) AS below,
                       sum(n) OVER (PARTITION BY day) AS total
                FROM bins),
            p95 AS (
                SELECT DISTINCT ON (day) day,
                       exp((bin + 0.5) * ln({LATENCY_BIN})) - 1 AS p95_latency_ms
                FROM cum WHERE below >= 0.95 * total ORDER BY day, bin)
            SELECT t.day::timestamp AT TIME ZONE 'UTC' AS bucket, t.requests,
                   t.cost_per_request, p95.p95_latency_ms
            FROM t LEFT JOIN p95 USING (day) ORDER BY t.day"""
    return conn.execute(query, params).fetchall()


def tokens(
    conn: Conn, start: datetime, end: datetime, bucket: Bucket, apps: list[str] | None = None
) -> list[dict]:
    """Input and output tokens and requests per model and prompt version ('(none)' when
    unset); ``day`` reads the rollup of completed traces over whole UTC days."""
    params = {"start": start, "end": end, "apps": apps, **_days(start, end)}
    if _bucket(bucket) == "hour":
        query = """
            SELECT coalesce(model, '') AS model, coalesce(prompt_version, '') AS prompt_version,
                   count(*) AS requests, coalesce(sum(tokens_in), 0) AS tokens_in,
                   coalesce(sum(tokens_out), 0) AS tokens_out
            FROM traces
            WHERE start_time >= %(start)s AND start_time < %(end)s AND part_time >= %(start)s
              AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
            GROUP BY 1, 2"""
    else:
        query = """
            SELECT model, prompt_version, sum(requests) AS requests,
                   sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out
            FROM trace_daily
            WHERE day BETWEEN %(first)s AND %(last)s
              AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
            GROUP BY 1, 2"""
    rows = conn.execute(query, params).fetchall()
    return sorted(
        ({**r, "model": r["model"] or "(none)", "prompt_version": r["prompt_version"] or "(none)",
          "tokens_in": int(r["tokens_in"]), "tokens_out": int(r["tokens_out"]),
          "requests": int(r["requests"])} for r in rows),
        key=lambda r: (r["model"], r["prompt_version"]),
    )  # fmt: skip


def first_seen(conn: Conn, apps: list[str] | None = None) -> list[dict]:
    """When each model and each prompt version first appeared, per app: ``kind`` (model or
    prompt_version), ``value``, ``app``, ``first_seen``. The first day comes from the daily
    rollup of completed traces, so it reaches back past trace retention; the time within
    that day from the traces of that day, or the day's start if retention dropped them."""
    rows: list[dict] = []
    for kind in ("model", "prompt_version"):
        rows += conn.execute(
            f"""
            WITH f AS (
                SELECT app, {kind} AS value,
                       min(day)::timestamp AT TIME ZONE 'UTC' AS day_start
                FROM trace_daily
                WHERE {kind} <> '' AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
                GROUP BY app, {kind})
            SELECT %(kind)s AS kind, f.app, f.value, coalesce(
                (SELECT min(t.start_time) FROM traces t
                 WHERE t.app = f.app AND t.{kind} = f.value AND t.complete
                   AND t.start_time >= f.day_start AND t.part_time >= f.day_start
                   AND t.start_time < f.day_start + interval '1 day'),
                f.day_start) AS first_seen
            FROM f
            """,  # kind: one of two column names
            {"kind": kind, "apps": apps},
        ).fetchall()
    return sorted(rows, key=lambda r: (r["first_seen"], r["kind"], r["app"], r["value"]))


def open_regressions(conn: Conn, apps: list[str] | None = None, limit: int = 50) -> list[dict]:
    """Open and acknowledged regressions of the apps, the most recently seen first."""
    return conn.execute(
        """
        SELECT id, app, metric, evaluator, evaluator_version, segment, status, headline,
               effect, first_seen, last_seen
        FROM regressions
        WHERE status <> 'resolved' AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
        ORDER BY last_seen DESC, id DESC LIMIT %(limit)s
        """,
        {"apps": apps, "limit": limit},
    ).fetchall()
