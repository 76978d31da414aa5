"""The Overview's daily rollups (migration 0012): scores, traces and latency bins per UTC
day, brought up to date from 0008's transaction marks.

:func:`refresh` adds what committed since the last refresh: final scores (scored or
skipped, which are never overwritten, so each counts once) and traces that became
complete. It is cheap when little is new, so the Overview calls it before each read; the
first call after a large backfill pays for the backfill once. Concurrent callers do not
wait: one refreshes, the others read what is there.
"""

from __future__ import annotations

from vigil.db.types import Conn

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


def refresh(conn: Conn) -> bool:
    """Add to the rollups what committed since the last refresh. Returns False, having
    done nothing, when another session is refreshing them now. ``conn`` is autocommit."""
    with conn.transaction():
        row = conn.execute("SELECT pg_try_advisory_xact_lock(%s) AS got", (LOCK_KEY,)).fetchone()
        if row is None or not row["got"]:
            return False
        mark = conn.execute(
            "SELECT snapshot::text AS since, pg_current_snapshot()::text AS until"
            " FROM rollup_marks WHERE name = %s FOR UPDATE",
            (MARK,),
        ).fetchone()
        assert mark is not None, "migration 0012 sets the rollups' mark"
        params = {"since": mark["since"], "until": mark["until"]}
        for statement in (_SCORES, _TRACES, _LATENCY):
            conn.execute(statement, params)
        conn.execute(
            "UPDATE rollup_marks SET snapshot = %(until)s::pg_snapshot WHERE name = %(name)s",
            {**params, "name": MARK},
        )
    return True
