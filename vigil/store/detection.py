"""What a detection pass reads: each app's traces in a window and its baseline, with the
columns the metrics use, and their scores."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigil.db.types import Conn

Window = tuple[datetime, datetime]

_TRACE_ROWS = """
    SELECT t.id, %(in_window)s AS in_window, t.start_time, t.segment, t.model,
           t.prompt_version, t.status,
           t.latency_ms, t.tokens_in, t.tokens_out, t.cost_usd,
           (SELECT count(*) FROM retrievals r
            WHERE r.trace_id = t.id AND r.part_time = t.part_time) AS chunks
    FROM traces t
    WHERE t.app = %(app)s AND t.start_time >= %(start)s AND t.start_time < %(end)s
      AND t.part_time >= %(start)s
    ORDER BY md5(t.id) LIMIT %(cap)s
"""


def window_apps(conn: Conn, window: Window, app: str | None = None) -> list[str]:
    """Apps with traces in the window."""
    rows = conn.execute(
        "SELECT DISTINCT app FROM traces WHERE start_time >= %s AND start_time < %s"
        " AND part_time >= %s AND (%s::text IS NULL OR app = %s) ORDER BY app",
        (window[0], window[1], window[0], app, app),
    ).fetchall()
    return [r["app"] for r in rows]


def window_traces(
    conn: Conn, app: str, window: Window, baseline: Window, cap: int
) -> list[dict[str, Any]]:
    """The app's traces of the baseline, then of the window: at most ``cap`` of each, a
    sample by a hash of the id when there are more (the same traces at every pass)."""
    rows: list[dict[str, Any]] = []
    for (start, end), in_window in ((baseline, False), (window, True)):
        params = {"in_window": in_window, "app": app, "start": start, "end": end, "cap": cap}
        rows += conn.execute(_TRACE_ROWS, params).fetchall()
    return rows


def window_scores(
    conn: Conn, trace_ids: list[str], since: datetime | None = None
) -> list[dict[str, Any]]:
    """The scored values (not labels or measures) of these traces, every evaluator version.
    ``since``: none of the traces started before it (the baseline's start), so only the
    partitions from then on are read."""
    return conn.execute(
        "SELECT trace_id, evaluator, evaluator_version, value FROM scores"
        " WHERE trace_id = ANY(%s) AND status = 'scored' AND value IS NOT NULL"
        " AND (%s::timestamptz IS NULL OR trace_start >= %s)",
        (trace_ids, since, since),
    ).fetchall()


def trace_inputs(conn: Conn, trace_ids: list[str], since: datetime | None = None) -> dict[str, str]:
    """The questions (inputs) of these traces, where they have one (started ``since``)."""
    rows = conn.execute(
        "SELECT id, input FROM traces WHERE id = ANY(%s) AND coalesce(input, '') <> ''"
        " AND (%s::timestamptz IS NULL OR part_time >= %s)",
        (trace_ids, since, since),
    ).fetchall()
    return {r["id"]: r["input"] for r in rows}


def incident_periods(conn: Conn, app: str, baseline: Window) -> list[dict[str, Any]]:
    """The app's regressions (open or resolved) that overlap ``baseline``: from the window
    they were first found in to the last window they were seen in."""
    return conn.execute(
        "SELECT metric, evaluator, evaluator_version, first_seen, last_seen FROM regressions"
        " WHERE app = %s AND last_seen > %s AND first_seen < %s",
        (app, baseline[0], baseline[1]),
    ).fetchall()
