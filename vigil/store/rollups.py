"""The Overview's daily rollups (migration 0012): scores, traces and latency bins per UTC
day, brought up to date from 0008's transaction marks and 0014's change log.

:func:`refresh` adds what committed since the last refresh: final scores (scored or
skipped, which are never overwritten, so each counts once) and traces that became
complete. Traces that change after they were counted (re-assembly rewrites a complete
trace's start time, latency, model, prompt version, tokens and cost) leave their old and
new (app, UTC day) in ``rollup_changes`` (0014); the refresh recomputes the trace and
latency rollups of those days from ``traces``. It is cheap when little is new, so the
Overview calls it before each read; the first call after a large backfill pays for the
backfill once. Concurrent callers do not wait: one refreshes, the others read what is there.

Exactly once: the refresh reads everything in one REPEATABLE READ snapshot, which is also
the new mark, holding a transaction-level advisory lock (nothing outlives the transaction,
so it works through PgBouncer in transaction mode). Rows committed by that snapshot are in
the rollups (added, or recomputed), later ones are left to the next refresh. A snapshot
taken before another refresh committed cannot take the mark: locking the mark's row then
fails to serialize, and this refresh gives way.
"""

from __future__ import annotations

from datetime import UTC

import psycopg

from vigil.db.types import Conn
from vigil.store import partitions

LOCK_KEY = 0x76_69_67_14  # pg_advisory lock of the refresh
MARK = "overview"
_BETWEEN = """{col} IS NOT NULL
    AND {col} >= pg_snapshot_xmin(%(since)s::pg_snapshot)
    AND pg_visible_in_snapshot({col}, %(until)s::pg_snapshot)
    AND NOT pg_visible_in_snapshot({col}, %(since)s::pg_snapshot)"""
LATENCY_BIN = 1.02  # bins of latency_daily are 2% wide; see bin_value
_SCORES = f"""
    INSERT INTO score_daily AS r
    SELECT app, (trace_start AT TIME ZONE 'UTC')::date, evaluator, evaluator_version, status,
           count(*), count(value), coalesce(sum(value), 0)
    FROM scores WHERE status IN ('scored', 'skipped') AND {_BETWEEN.format(col="written_xid")}
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (app, day, evaluator, evaluator_version, status) DO UPDATE SET
        n = r.n + excluded.n, valued = r.valued + excluded.valued,
        total = r.total + excluded.total"""
_TRACES = f"""
    INSERT INTO trace_daily AS r
    SELECT app, (start_time AT TIME ZONE 'UTC')::date, coalesce(model, ''),
           coalesce(prompt_version, ''), count(*), count(cost_usd), coalesce(sum(cost_usd), 0),
           coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0)
    FROM traces WHERE {_BETWEEN.format(col="completed_xid")}
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (app, day, model, prompt_version) DO UPDATE SET
        requests = r.requests + excluded.requests, costed = r.costed + excluded.costed,
        cost_usd = r.cost_usd + excluded.cost_usd, tokens_in = r.tokens_in + excluded.tokens_in,
        tokens_out = r.tokens_out + excluded.tokens_out"""
_LATENCY = f"""
    INSERT INTO latency_daily AS r
    SELECT app, (start_time AT TIME ZONE 'UTC')::date,
           floor(ln(1 + latency_ms) / ln({LATENCY_BIN}))::integer, count(*)
    FROM traces WHERE latency_ms IS NOT NULL AND {_BETWEEN.format(col="completed_xid")}
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (app, day, bin) DO UPDATE SET n = r.n + excluded.n"""
# The changed days, taken: the snapshot sees exactly the changes committed by the mark.
_TAKE_CHANGES = (
    "WITH d AS (DELETE FROM rollup_changes RETURNING app, day) SELECT DISTINCT app, day FROM d"
)
_DAYS = "unnest(%(apps)s::text[], %(days)s::date[]) AS k(app, day)"
_ON_DAYS = f"""traces t JOIN {_DAYS} ON t.app = k.app
    AND t.start_time >= k.day::timestamp AT TIME ZONE 'UTC'
    AND t.part_time >= k.day::timestamp AT TIME ZONE 'UTC'
    AND t.start_time < (k.day + 1)::timestamp AT TIME ZONE 'UTC'"""
_RECOMPUTE = (
    f"DELETE FROM trace_daily r USING {_DAYS} WHERE r.app = k.app AND r.day = k.day",
    f"DELETE FROM latency_daily r USING {_DAYS} WHERE r.app = k.app AND r.day = k.day",
    f"""INSERT INTO trace_daily
    SELECT t.app, k.day, coalesce(t.model, ''), coalesce(t.prompt_version, ''), count(*),
           count(t.cost_usd), coalesce(sum(t.cost_usd), 0), coalesce(sum(t.tokens_in), 0),
           coalesce(sum(t.tokens_out), 0)
    FROM {_ON_DAYS} WHERE t.complete GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""",
    f"""INSERT INTO latency_daily
    SELECT t.app, k.day, floor(ln(1 + t.latency_ms) / ln({LATENCY_BIN}))::integer, count(*)
    FROM {_ON_DAYS} WHERE t.complete AND t.latency_ms IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
)


def refresh(conn: Conn) -> bool:
    """Bring the rollups up to what committed since the last refresh. Returns False, having
    done nothing, when another session is refreshing them now. ``conn`` is autocommit."""
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            got = conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s) AS got", (LOCK_KEY,)
            ).fetchone()
            if got is None or not got["got"]:
                return False
            _refresh(conn)
    except psycopg.errors.SerializationFailure:
        return False  # a refresh committed after this snapshot: what it took is counted
    return True


def _refresh(conn: Conn) -> None:
    mark = conn.execute(
        "SELECT snapshot::text AS since, pg_current_snapshot()::text AS until"
        " FROM rollup_marks WHERE name = %s FOR UPDATE",
        (MARK,),
    ).fetchone()
    assert mark is not None, "migration 0012 sets the rollups' mark"
    params = {"since": mark["since"], "until": mark["until"]}
    for statement in (_SCORES, _TRACES, _LATENCY):
        conn.execute(statement, params)
    # After the additions: a day recomputed now holds every trace complete at the mark.
    changed = conn.execute(_TAKE_CHANGES).fetchall()
    # A day before what retention kept has lost its traces: recomputing it would shrink it.
    kept = partitions.kept_from(conn)["traces"]
    changed = [r for r in changed if kept is None or r["day"] >= kept.astimezone(UTC).date()]
    if changed:
        days = {"apps": [r["app"] for r in changed], "days": [r["day"] for r in changed]}
        for statement in _RECOMPUTE:
            conn.execute(statement, days)
    conn.execute(
        "UPDATE rollup_marks SET snapshot = %(until)s::pg_snapshot WHERE name = %(name)s",
        {**params, "name": MARK},
    )
