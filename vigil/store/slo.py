"""Good and total events of an SLO over a time range (see :mod:`vigil.slo`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.slo import SLO, Burn, BurnPair, ScoreSLI, burn_rate, duration

COLUMNS = ("model", "prompt_version")  # segment keys that are trace columns


def good_and_total(conn: Conn, slo: SLO, start: datetime, end: datetime) -> tuple[int, int]:
    """How many of the SLO's events in [start, end) were good, and how many there were."""
    where, params = _segment(slo.segment)
    params.update({"app": slo.app, "start": start, "end": end})
    if isinstance(slo.sli, ScoreSLI):
        op = sql.SQL(">" if slo.sli.strictly else ">=")
        query = sql.SQL(
            "SELECT count(*) FILTER (WHERE s.value {op} %(threshold)s) AS good, count(*) AS total"
            " FROM scores s JOIN traces t ON t.id = s.trace_id AND t.part_time = s.trace_start"
            " WHERE s.app = %(app)s AND s.evaluator = %(evaluator)s AND s.status = 'scored'"
            " AND s.value IS NOT NULL AND s.trace_start >= %(start)s AND s.trace_start < %(end)s"
            " AND t.part_time >= %(start)s AND t.part_time < %(end)s"
            " {where}"
        ).format(op=op, where=where)
        params.update({"threshold": slo.sli.threshold, "evaluator": slo.sli.evaluator})
    else:
        column = sql.Identifier(slo.sli.measure)  # one of vigil.slo.MEASURES (validated)
        query = sql.SQL(
            "SELECT count(*) FILTER (WHERE t.{col} < %(bound)s) AS good, count(*) AS total"
            " FROM traces t WHERE t.app = %(app)s AND t.{col} IS NOT NULL"
            " AND t.start_time >= %(start)s AND t.start_time < %(end)s"
            " AND t.part_time >= %(start)s {where}"
        ).format(col=column, where=where)
        params["bound"] = slo.sli.bound
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row["good"]), int(row["total"])


def burns(conn: Conn, slo: SLO, pairs: list[BurnPair], now: datetime) -> list[Burn]:
    """The burn rate over each pair's long and short windows ending at ``now``."""
    out = []
    for pair in pairs:
        rates = []
        for window in (pair.long, pair.short):
            good, total = good_and_total(conn, slo, now - duration(window), now)
            rates.append(burn_rate(slo, good, total))
        out.append(Burn(pair, rates[0], rates[1]))
    return out


def over_period(conn: Conn, slo: SLO, now: datetime) -> tuple[int, int]:
    """Good and total events over the SLO's own window, ending at ``now``."""
    return good_and_total(conn, slo, now - slo.period, now)


def _segment(segment: dict[str, str]) -> tuple[sql.Composable, dict[str, Any]]:
    parts: list[sql.Composable] = []
    params: dict[str, Any] = {}
    rest = {k: v for k, v in segment.items() if k not in COLUMNS}
    for key in COLUMNS:
        if key in segment:
            parts.append(sql.SQL(" AND t.{} = %({})s").format(sql.Identifier(key), sql.SQL(key)))
            params[key] = segment[key]
    if rest:
        parts.append(sql.SQL(" AND t.segment @> %(segment)s"))
        params["segment"] = Jsonb(rest)
    return sql.Composed(parts), params
