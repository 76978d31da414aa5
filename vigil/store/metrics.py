"""The SQL behind the Prometheus exporter (:mod:`vigil.metrics`) and the receiver's ingest
counts (migration 0008).

Rows are read between two of the exporter's snapshots: a trace once its transaction that
made it complete is visible in the newer snapshot and was not in the older one (likewise a
score and the transaction that wrote it). Snapshots are ``pg_snapshot`` values as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from vigil.db.types import Conn

UNKNOWN_APP = "(unknown)"  # a request refused before its API key was read
ALL_APPS = "(all)"  # an evaluation run over every app
_BETWEEN = """{col} IS NOT NULL
    AND {col} >= pg_snapshot_xmin(%(since)s::pg_snapshot)
    AND pg_visible_in_snapshot({col}, %(until)s::pg_snapshot)
    AND NOT pg_visible_in_snapshot({col}, %(since)s::pg_snapshot)"""
_FETCH = 5000  # rows a round trip when a refresh reads many rows (a backfill)


class IngestCount(NamedTuple):
    app: str
    outcome: str  # received, stored, duplicate, rejected, refused
    reason: str  # '' unless rejected or refused
    requests: int
    spans: int


def add_ingest_counts(conn: Conn, counts: list[IngestCount], shard: int = 0) -> None:
    """Add ``counts`` to the cumulative table in one statement. Rows are locked in key
    order, so that concurrent writers (of one shard) cannot deadlock."""
    merged: dict[tuple[str, str, str], list[int]] = {}
    for c in counts:
        total = merged.setdefault((c.app, c.outcome, c.reason), [0, 0])
        total[0] += c.requests
        total[1] += c.spans
    if not merged:
        return
    keys = sorted(merged)
    conn.execute(
        """
        INSERT INTO ingest_counts AS c (app, outcome, reason, shard, requests, spans)
        SELECT v.app, v.outcome, v.reason, %(shard)s, v.requests, v.spans
        FROM unnest(%(apps)s::text[], %(outcomes)s::text[], %(reasons)s::text[],
                    %(requests)s::bigint[], %(spans)s::bigint[])
             AS v(app, outcome, reason, requests, spans)
        ORDER BY v.app, v.outcome, v.reason
        ON CONFLICT (app, outcome, reason, shard) DO UPDATE SET
            requests = c.requests + EXCLUDED.requests, spans = c.spans + EXCLUDED.spans,
            updated_at = now()
        """,
        {
            "shard": shard,
            "apps": [k[0] for k in keys],
            "outcomes": [k[1] for k in keys],
            "reasons": [k[2] for k in keys],
            "requests": [merged[k][0] for k in keys],
            "spans": [merged[k][1] for k in keys],
        },
    )


def ingest_totals(conn: Conn) -> list[IngestCount]:
    """The counts summed over shards, by app, outcome and reason."""
    rows = conn.execute(
        "SELECT app, outcome, reason, sum(requests)::bigint AS requests,"
        " sum(spans)::bigint AS spans FROM ingest_counts GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).fetchall()
    return [IngestCount(**r) for r in rows]


def current_snapshot(conn: Conn) -> str:
    """Which transactions have committed now, as ``pg_snapshot`` text."""
    row = conn.execute("SELECT pg_current_snapshot()::text AS s").fetchone()
    assert row is not None
    return str(row["s"])


def completed_traces(conn: Conn, since: str, until: str) -> Iterator[dict[str, Any]]:
    """Traces made complete by a transaction committed after snapshot ``since`` and by
    ``until``: app, status, latency, cost, tokens, model, prompt version and segment.

    Streams through a server-side cursor in its own transaction (``conn`` is autocommit).
    """
    query = (
        "SELECT app, status, latency_ms, cost_usd, tokens_in, tokens_out, model,"
        " prompt_version, segment FROM traces WHERE " + _BETWEEN.format(col="completed_xid")
    )
    yield from _stream(conn, "vigil_metrics_traces", query, {"since": since, "until": until})


def written_scores(conn: Conn, since: str, until: str) -> Iterator[dict[str, Any]]:
    """Scores with a value in [0, 1] written by a transaction committed after ``since`` and
    by ``until``, with their trace's model, prompt version and segment."""
    query = (
        "SELECT s.app, s.evaluator, s.value, t.model, t.prompt_version, t.segment"
        " FROM scores s JOIN traces t ON t.id = s.trace_id AND t.part_time = s.trace_start"
        " WHERE s.status = 'scored' AND s.value IS NOT NULL AND "
        + _BETWEEN.format(col="s.written_xid")
    )
    yield from _stream(conn, "vigil_metrics_scores", query, {"since": since, "until": until})


def _stream(conn: Conn, name: str, query: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with conn.transaction(), conn.cursor(name=name) as cur:
        cur.itersize = _FETCH
        cur.execute(query, params)
        yield from cur


def top_segment_values(
    conn: Conn, lookback_s: float, max_keys: int, max_values: int
) -> list[dict[str, Any]]:
    """The segment values that get their own label: per app, up to ``max_keys`` keys (model
    and prompt version first, then the app's promoted keys, then the keys most traces
    carry), and per key the ``max_values`` values with the most traces started in the last
    ``lookback_s`` seconds. Rows of app, key, value."""
    return conn.execute(
        """
        WITH recent AS (
            SELECT app, model, prompt_version, segment FROM traces
            WHERE start_time >= now() - make_interval(secs => %(lookback)s)
              AND part_time >= now() - make_interval(secs => %(lookback)s)
        ), pairs AS (
            SELECT app, 'model' AS key, model AS value FROM recent WHERE model IS NOT NULL
            UNION ALL SELECT app, 'prompt_version', prompt_version FROM recent
                      WHERE prompt_version IS NOT NULL
            UNION ALL SELECT r.app, s.key, s.value FROM recent r, jsonb_each_text(r.segment) s
        ), counted AS (
            SELECT app, key, value, count(*) AS n FROM pairs GROUP BY 1, 2, 3
        ), keyed AS (
            SELECT c.app, c.key, row_number() OVER (
                PARTITION BY c.app
                ORDER BY c.key IN ('model', 'prompt_version') DESC,
                         coalesce(c.key = ANY(k.keys), false) DESC, sum(c.n) DESC, c.key
            ) AS rank
            FROM counted c LEFT JOIN segment_keys k ON k.app = c.app
            GROUP BY c.app, c.key, k.keys
        ), ranked AS (
            SELECT app, key, value,
                   row_number() OVER (PARTITION BY app, key ORDER BY n DESC, value) AS rank
            FROM counted
        )
        SELECT r.app, r.key, r.value FROM ranked r JOIN keyed k USING (app, key)
        WHERE k.rank <= %(max_keys)s AND r.rank <= %(max_values)s
        ORDER BY 1, 2, 3
        """,
        {"lookback": lookback_s, "max_keys": max_keys, "max_values": max_values},
    ).fetchall()


def open_regressions(conn: Conn) -> list[dict[str, Any]]:
    """Regressions not resolved, counted by app, metric and status (open, acknowledged)."""
    return conn.execute(
        "SELECT app, metric, status, count(*) AS n FROM regressions"
        " WHERE status <> 'resolved' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).fetchall()


def eval_totals(conn: Conn) -> list[dict[str, Any]]:
    """Evaluation counters summed over every run, by app (``(all)`` for runs over every
    app): scores written as scored, skipped and error, judge spend and tokens."""
    return conn.execute(
        "SELECT coalesce(app, %s) AS app, sum(scored)::bigint AS scored,"
        " sum(skipped)::bigint AS skipped, sum(errors)::bigint AS errors,"
        " sum(cost_usd) AS cost_usd, sum(judge_tokens)::bigint AS judge_tokens"
        " FROM eval_runs GROUP BY 1 ORDER BY 1",
        (ALL_APPS,),
    ).fetchall()
