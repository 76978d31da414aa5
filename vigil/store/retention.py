"""Retention: the policy, the segment rollup of a week's scores, and the drop of whole
partitions (see :mod:`vigil.retention` for the rules, :mod:`vigil.store.partitions` for the
partitions).

Each drop is one transaction, one range at a time, oldest first: for traces, the scores of
the range are rolled up per day and segment (``score_segment_daily``) while the segments
still exist, the claims and pending review items of its traces are deleted (labelled items
stay: they are the audit trail and the calibration's labels), then its ``trace_ids`` rows,
then the spans, retrievals and traces partitions are dropped; for scores, the scores
partition. A crash rolls the whole range back, and the next run does it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.retention import Policy
from vigil.store import partitions
from vigil.store.partitions import TimeRange

LOCK_KEY = 0x76_69_67_17  # pg_advisory lock: one retention run at a time
BINS = 20  # score_segment_daily.hist: bins of value, 0.05 wide


def get_policy(conn: Conn) -> Policy:
    rows = conn.execute("SELECT data, keep_days FROM retention_policies").fetchall()
    keep = {r["data"]: r["keep_days"] for r in rows}
    width = conn.execute("SELECT days FROM partitioning").fetchone()
    assert width is not None, "migration 0017 makes the partitioning row"
    return Policy(keep.get("traces"), keep.get("scores"), width["days"])


def set_policy(conn: Conn, policy: Policy, by: str) -> None:
    """Store the whole policy in one transaction."""
    with conn.transaction():
        for data, days in (("traces", policy.traces_days), ("scores", policy.scores_days)):
            conn.execute(
                "INSERT INTO retention_policies (data, keep_days, updated_by) VALUES (%s, %s, %s)"
                " ON CONFLICT (data) DO UPDATE SET keep_days = EXCLUDED.keep_days,"
                " updated_by = EXCLUDED.updated_by, updated_at = now()",
                (data, days, by),
            )
        conn.execute(
            "UPDATE partitioning SET days = %s, updated_by = %s, updated_at = now()"
            " WHERE days <> %s",
            (policy.partition_days, by, policy.partition_days),
        )


def policy_changes(conn: Conn) -> list[dict[str, Any]]:
    """Who set each policy, when."""
    return conn.execute(
        "SELECT data, keep_days, updated_by, updated_at FROM retention_policies ORDER BY data"
    ).fetchall()


@dataclass(frozen=True)
class Plan:
    """The ranges a run drops: the traces of ``traces``, the scores of ``scores``."""

    traces: list[TimeRange]
    scores: list[TimeRange]


def plan(conn: Conn, policy: Policy, now: datetime) -> Plan:
    """What the policy drops at ``now``: the ranges wholly older than each retention. A
    ``now`` ahead of the database's clock is taken as the database's: the write path refuses
    old traces by that clock, and a drop must never reach past what it refuses."""
    row = conn.execute("SELECT now() AS now").fetchone()
    assert row is not None
    now = min(now, row["now"])
    ranges = partitions.ranges(conn)

    def due(days: int | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    traces_before, scores_before = due(policy.traces_days), due(policy.scores_days)
    return Plan(
        traces=[
            r for r in ranges
            if traces_before and r.traces_dropped_at is None and r.hi <= traces_before
        ],
        scores=[
            r for r in ranges
            if scores_before and r.scores_dropped_at is None and r.hi <= scores_before
        ],
    )  # fmt: skip


def _begin_drop(conn: Conn, span: TimeRange, dropped: str) -> dict[str, Any] | None:
    """The start of a drop, in the caller's transaction: one retention run at a time, the
    range's row locked. None when the range is gone or its ``dropped`` column is set
    (another run dropped it meanwhile); else the range's state."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    conn.execute("SET LOCAL work_mem = '256MB'")
    state = _lock_range(conn, span.lo)
    if state is None or state[dropped] is not None:
        return None
    return state


def _roll_up_once(conn: Conn, span: TimeRange, state: dict[str, Any]) -> dict[str, Any]:
    return {"rolled": roll_up(conn, span.lo, span.hi) if state["rolled_at"] is None else 0}


def drop_traces(conn: Conn, span: TimeRange, run: str | None, **drop: Any) -> dict[str, Any]:
    """Delete what points at the range's traces, roll up its scores, and drop the traces,
    spans and retrievals partitions, in one transaction. Returns what it dropped (nothing
    when another run dropped it meanwhile). ``drop``: see :func:`partitions.drop`.

    The ids go first: deleting them waits for every score transaction that holds one
    (:func:`vigil.store.scores.upsert_scores` locks them), and later ones find them gone;
    the roll-up that follows sees every score the range will ever have."""
    with conn.transaction():
        state = _begin_drop(conn, span, "traces_dropped_at")
        if state is None:
            return {}
        in_range = {"lo": span.lo, "hi": span.hi}
        rows: dict[str, Any] = {}
        rows["claims"] = _count(
            conn,
            "DELETE FROM eval_claims c USING trace_ids k WHERE k.id = c.trace_id"
            " AND k.part_time >= %(lo)s AND k.part_time < %(hi)s",
            in_range,
        )
        rows["pending_reviews"] = _count(
            conn,
            "DELETE FROM review_items WHERE status = 'pending'"
            " AND part_time >= %(lo)s AND part_time < %(hi)s",
            in_range,
        )
        rows.update(_estimates(conn, [span.name(t) for t in ("spans", "retrievals")]))
        rows["traces"] = _count(
            conn, "DELETE FROM trace_ids WHERE part_time >= %(lo)s AND part_time < %(hi)s", in_range
        )
        rows = _roll_up_once(conn, span, state) | rows
        partitions.drop(conn, [span.name(t) for t in partitions.TRACE_TABLES], **drop)
        conn.execute(
            "UPDATE time_partitions SET traces_dropped_at = now() WHERE lo = %s", (span.lo,)
        )
        _log(conn, "traces", span, rows, run)
    return rows


def drop_scores(conn: Conn, span: TimeRange, run: str | None, **drop: Any) -> dict[str, Any]:
    """Drop the range's scores partition (rolled up first if its traces are still there)."""
    with conn.transaction():
        state = _begin_drop(conn, span, "scores_dropped_at")
        if state is None:
            return {}
        rows = _roll_up_once(conn, span, state)
        rows.update(_estimates(conn, [span.name("scores")]))
        partitions.drop(conn, [span.name("scores")], **drop)
        conn.execute(
            "UPDATE time_partitions SET scores_dropped_at = now() WHERE lo = %s", (span.lo,)
        )
        _log(conn, "scores", span, rows, run)
    return rows


def roll_up(conn: Conn, lo: datetime, hi: datetime) -> int:
    """Aggregate the scores of traces in [lo, hi) per UTC day, evaluator version and segment
    (the whole app, model, prompt version, each segment key) into ``score_segment_daily``;
    marks the range rolled. Rows already there are kept (a re-run adds nothing)."""
    cur = conn.execute(_ROLL_UP, {"lo": lo, "hi": hi})
    conn.execute("UPDATE time_partitions SET rolled_at = now() WHERE lo = %s", (lo,))
    return max(cur.rowcount, 0)


def hist_sql(value: str) -> str:
    """SQL for the 20 bin counts of ``value`` (a column), as ``score_segment_daily.hist``."""
    return ", ".join(
        f"count(*) FILTER (WHERE {value} >= {i / BINS} AND {value} < {(i + 1) / BINS})"
        if i < BINS - 1
        else f"count(*) FILTER (WHERE {value} >= {i / BINS})"
        for i in range(BINS)
    )


_ROLL_UP = f"""
    INSERT INTO score_segment_daily
    WITH s AS (
        SELECT s.app, (s.trace_start AT TIME ZONE 'UTC')::date AS day, s.evaluator,
               s.evaluator_version, s.status, s.value, s.measure, t.model, t.prompt_version,
               t.segment
        FROM scores s JOIN traces t ON t.id = s.trace_id AND t.part_time = s.trace_start
        WHERE s.trace_start >= %(lo)s AND s.trace_start < %(hi)s
          AND t.part_time >= %(lo)s AND t.part_time < %(hi)s),
    keyed AS (
        SELECT s.*, k.key, k.kv FROM s CROSS JOIN LATERAL (
            SELECT '' AS key, '' AS kv
            UNION ALL SELECT 'model', s.model WHERE s.model IS NOT NULL
            UNION ALL SELECT 'prompt_version', s.prompt_version WHERE s.prompt_version IS NOT NULL
            UNION ALL SELECT e.key, e.value FROM jsonb_each_text(s.segment) e
                      WHERE e.value IS NOT NULL) k)
    SELECT app, day, evaluator, evaluator_version, key, kv,
           count(*) FILTER (WHERE status = 'scored'), count(*) FILTER (WHERE status = 'skipped'),
           count(*) FILTER (WHERE status = 'error'), count(value), coalesce(sum(value), 0),
           coalesce(sum(value * value), 0), ARRAY[{hist_sql("value")}]::int[],
           count(measure), coalesce(sum(measure), 0)
    FROM keyed GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (app, day, evaluator, evaluator_version, seg_key, seg_value) DO NOTHING
"""


def last_drops(conn: Conn, limit: int = 10) -> list[dict[str, Any]]:
    """The latest drops, newest first."""
    return conn.execute(
        "SELECT at, data, lo, hi, rows, run FROM retention_log ORDER BY id DESC LIMIT %s",
        (limit,),
    ).fetchall()


def analyze(conn: Conn) -> None:
    """Statistics of the partitioned parents: autovacuum analyzes partitions, never them."""
    conn.execute("ANALYZE traces, spans, retrievals, scores, trace_ids")


def _lock_range(conn: Conn, lo: datetime) -> dict[str, Any] | None:
    return conn.execute(
        "SELECT rolled_at, traces_dropped_at, scores_dropped_at FROM time_partitions"
        " WHERE lo = %s FOR UPDATE",
        (lo,),
    ).fetchone()


def _count(conn: Conn, statement: str, params: dict[str, Any]) -> int:
    return max(conn.execute(statement, params).rowcount, 0)


def _estimates(conn: Conn, names: list[str]) -> dict[str, int | None]:
    """Rows of these partitions as the statistics know them (a count would read them all)."""
    rows = conn.execute(
        "SELECT n AS name, c.reltuples FROM unnest(%s::text[]) n"
        " LEFT JOIN pg_class c ON c.oid = to_regclass(quote_ident(n))",
        (names,),
    ).fetchall()
    return {
        f"{r['name'].rsplit('_p', 1)[0]}_estimate": (
            int(r["reltuples"]) if r["reltuples"] is not None and r["reltuples"] >= 0 else None
        )
        for r in rows
    }


def _log(conn: Conn, data: str, span: TimeRange, rows: dict[str, Any], run: str | None) -> None:
    conn.execute(
        "INSERT INTO retention_log (data, lo, hi, rows, run) VALUES (%s, %s, %s, %s, %s)",
        (data, span.lo, span.hi, Jsonb(rows), run),
    )
