"""Sampling policies, and the traces a policy picks in a window (see :mod:`vigil.sampling`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigil.db.types import Conn
from vigil.sampling import REASONS, STRATUM_KEY, Reason, SamplingPolicy
from vigil.store.scores import missing_params, missing_score_sql

_FIELDS = tuple(SamplingPolicy.model_fields)
TRACE_COLUMNS = ("model", "prompt_version")  # strata stored as columns; others are segment keys
# the hash of a trace id as a share in [0, 1): the same for a trace in every window and run
HASH_SQL = "(('x' || substr(md5(t.id), 1, 8))::bit(32)::bigint / 4294967296.0)"


@dataclass(frozen=True)
class Pick:
    trace_id: str
    reason: Reason


def get_policy(conn: Conn, app: str) -> SamplingPolicy | None:
    row = conn.execute(
        f"SELECT {', '.join(_FIELDS)} FROM sampling_policies WHERE app = %s", (app,)
    ).fetchone()
    return None if row is None else SamplingPolicy(**{**row, "strata": tuple(row["strata"])})


def list_policies(conn: Conn) -> list[dict]:
    return conn.execute(
        f"SELECT app, {', '.join(_FIELDS)}, updated_at, updated_by FROM sampling_policies"
        " ORDER BY app"
    ).fetchall()


def set_policy(conn: Conn, app: str, policy: SamplingPolicy, by: str) -> None:
    """Create or replace ``app``'s policy (one statement: atomic)."""
    values = policy.model_dump()
    values["strata"] = list(policy.strata)
    cols = ", ".join(_FIELDS)
    conn.execute(
        f"INSERT INTO sampling_policies (app, {cols}, updated_by) VALUES (%(app)s, "
        + ", ".join(f"%({f})s" for f in _FIELDS)
        + ", %(by)s) ON CONFLICT (app) DO UPDATE SET "
        + ", ".join(f"{f} = EXCLUDED.{f}" for f in _FIELDS)
        + ", updated_at = now(), updated_by = EXCLUDED.updated_by",
        {**values, "app": app, "by": by},
    )


def delete_policy(conn: Conn, app: str) -> bool:
    cur = conn.execute("DELETE FROM sampling_policies WHERE app = %s", (app,))
    return cur.rowcount > 0


def window_apps(
    conn: Conn, start: datetime, end: datetime, app: str | None, *, complete_only: bool = True
) -> list[str]:
    """Apps with (complete) traces in [start, end)."""
    rows = conn.execute(
        "SELECT DISTINCT app FROM traces WHERE start_time >= %s AND start_time < %s"
        " AND part_time >= %s AND (complete OR NOT %s) AND (%s::text IS NULL OR app = %s)"
        " ORDER BY app",
        (start, end, start, complete_only, app, app),
    ).fetchall()
    return [r["app"] for r in rows]


def stratum_sql(key: str) -> str:
    """SQL for one stratum key of a trace row aliased ``t``.

    The key is written into the SQL text, so it is checked by name here as well as in
    :class:`SamplingPolicy`: nothing but letters, digits and ``_ . -`` gets in.
    """
    if not STRATUM_KEY.match(key):  # SamplingPolicy refused it already; never trust SQL text
        raise ValueError(f"bad stratum key {key!r}")
    return f"t.{key}" if key in TRACE_COLUMNS else f"t.segment ->> '{key}'"


def strata_sql(strata: tuple[str, ...]) -> str:
    """SQL for a trace's stratum: its values of ``strata`` joined by ``|`` (one stratum if none)."""
    return " || '|' || ".join(f"coalesce({stratum_sql(k)}, '')" for k in strata) or "''"


def select_sample(
    conn: Conn,
    app: str,
    start: datetime,
    end: datetime,
    policy: SamplingPolicy,
    evaluators: list[tuple[str, str]],
    *,
    max_attempts: int,
    apply_cap: bool = True,
) -> list[Pick]:
    """The traces of ``app`` in [start, end) that ``policy`` picks and that still miss a
    final score from one of ``evaluators`` (none, or a retryable error), in the order a run
    takes them: rules first, then by hash. ``apply_cap`` limits them to the run's cap."""
    stratum = strata_sql(policy.strata)
    q = policy.outlier_quantile
    rows = conn.execute(
        f"""
        WITH w AS (
            SELECT t.id, t.start_time, t.part_time, t.prompt_version, t.user_feedback, t.status,
                   t.latency_ms, t.cost_usd, {HASH_SQL} AS h, {stratum} AS stratum
            FROM traces t
            WHERE t.app = %(app)s AND t.start_time >= %(start)s AND t.start_time < %(end)s
              AND t.part_time >= %(start)s AND t.complete
        ),
        q AS (
            SELECT percentile_cont(coalesce(%(q)s, 0.5)) WITHIN GROUP (ORDER BY latency_ms)
                       AS latency,
                   percentile_cont(coalesce(%(q)s, 0.5)) WITHIN GROUP (ORDER BY cost_usd) AS cost
            FROM w
        ),
        ranked AS (
            SELECT w.*, row_number() OVER (PARTITION BY stratum ORDER BY h, id) AS r FROM w
        ),
        -- The first traces of each prompt version in the window, ever: once a version (a
        -- probe of each weekly partition's index), not once a trace.
        firsts AS (
            SELECT f.id FROM (SELECT DISTINCT prompt_version FROM w
                              WHERE prompt_version IS NOT NULL AND %(first_n)s > 0) v
            CROSS JOIN LATERAL (
                SELECT p.id FROM traces p
                WHERE p.app = %(app)s AND p.prompt_version = v.prompt_version
                ORDER BY p.start_time, p.id LIMIT %(first_n)s) f
        ),
        reasons AS (
            SELECT ranked.id, ranked.start_time, ranked.part_time, ranked.h, CASE
                WHEN %(thumbs)s AND user_feedback = -1 THEN 'thumbs_down'
                WHEN %(errors)s AND status = 'error' THEN 'error'
                WHEN %(q)s::float8 IS NOT NULL AND latency_ms > q.latency THEN 'latency_outlier'
                WHEN %(q)s::float8 IS NOT NULL AND cost_usd > q.cost THEN 'cost_outlier'
                WHEN ranked.id IN (SELECT id FROM firsts) THEN 'new_prompt_version'
                WHEN r <= %(min_stratum)s THEN 'stratum_minimum'
                WHEN h < %(rate)s THEN 'sampled'
            END AS reason
            FROM ranked CROSS JOIN q
        )
        SELECT id, reason FROM reasons
        WHERE reason IS NOT NULL
          AND {missing_score_sql("reasons.id", "reasons.part_time")}
        ORDER BY array_position(%(order)s::text[], reason), h, id
        LIMIT %(cap)s
        """,
        {
            "app": app,
            "start": start,
            "end": end,
            "q": q,
            "thumbs": policy.include_thumbs_down,
            "errors": policy.include_errors,
            "first_n": policy.first_per_prompt_version,
            "min_stratum": policy.min_per_stratum if policy.strata else 0,
            "rate": policy.rate,
            **missing_params(evaluators, max_attempts),
            "order": list(REASONS),
            "cap": policy.max_traces_per_run if apply_cap else None,
        },
    ).fetchall()
    return [Pick(r["id"], r["reason"]) for r in rows]


def window_counts(conn: Conn, app: str, start: datetime, end: datetime) -> dict[str, int]:
    """Complete and incomplete traces of ``app`` in [start, end) (for a dry run)."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE complete) AS complete,"
        " count(*) FILTER (WHERE NOT complete) AS incomplete FROM traces"
        " WHERE app = %s AND start_time >= %s AND start_time < %s AND part_time >= %s",
        (app, start, end, start),
    ).fetchone()
    assert row is not None
    return {"complete": int(row["complete"]), "incomplete": int(row["incomplete"])}


def text_chars(conn: Conn, trace_ids: list[str]) -> int:
    """Characters of question, answer and retrieved chunks over ``trace_ids`` (what a judge
    reads; for cost estimates)."""
    row = conn.execute(
        """
        SELECT coalesce(sum(length(coalesce(t.input, '')) + length(coalesce(t.output, ''))
               + coalesce((SELECT sum(length(r.content)) FROM retrievals r
                           WHERE r.trace_id = t.id AND r.part_time = t.part_time), 0)), 0)
               AS chars
        FROM trace_ids k JOIN traces t ON t.id = k.id AND t.part_time = k.part_time
        WHERE k.id = ANY(%s)
        """,
        (trace_ids,),
    ).fetchone()
    return int(row["chars"]) if row else 0
