"""A year of daily score statistics per segment, across retention.

Days whose traces retention dropped come from ``score_segment_daily`` (rolled up when they
dropped); later days from ``scores`` joined to their traces (only the partitions of the
range are read). Both have the same shape, so a chart or a baseline does not see where
one ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigil.db.types import Conn
from vigil.store import partitions
from vigil.store.retention import hist_sql

# The segment of a rollup row: '' (the whole app), 'model', 'prompt_version' or a key of the
# trace's segment, with its value.
Segment = tuple[str, str]
WHOLE_APP: Segment = ("", "")


def score_history(
    conn: Conn,
    app: str,
    evaluator: str,
    version: str,
    segment: Segment,
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    """Per UTC day of [start, end) (trace start days): scored, valued (with a [0, 1] value),
    mean, variance (population) and ``hist`` (20 bins of value, 0.05 wide)."""
    kept = partitions.kept_from(conn)["traces"]
    split = max(start, kept) if kept is not None else start
    params = {
        "app": app, "evaluator": evaluator, "version": version, "key": segment[0],
        "value": segment[1], "start": start, "end": end, "split": min(split, end),
    }  # fmt: skip
    rolled = conn.execute(
        """
        SELECT day, scored, valued, total, total_sq, hist FROM score_segment_daily
        WHERE app = %(app)s AND evaluator = %(evaluator)s AND evaluator_version = %(version)s
          AND seg_key = %(key)s AND seg_value = %(value)s
          AND day >= (%(start)s AT TIME ZONE 'UTC')::date
          AND day < (%(split)s AT TIME ZONE 'UTC')::date
        """,
        params,
    ).fetchall()
    raw = conn.execute(
        f"""
        SELECT (s.trace_start AT TIME ZONE 'UTC')::date AS day,
               count(*) FILTER (WHERE s.status = 'scored') AS scored, count(s.value) AS valued,
               coalesce(sum(s.value), 0) AS total, coalesce(sum(s.value * s.value), 0) AS total_sq,
               ARRAY[{hist_sql("s.value")}]::int[] AS hist
        FROM scores s JOIN traces t ON t.id = s.trace_id AND t.part_time = s.trace_start
        WHERE s.app = %(app)s AND s.evaluator = %(evaluator)s
          AND s.evaluator_version = %(version)s
          AND s.trace_start >= %(split)s AND s.trace_start < %(end)s
          AND t.part_time >= %(split)s AND t.part_time < %(end)s
          AND CASE %(key)s WHEN '' THEN true
                           WHEN 'model' THEN t.model = %(value)s
                           WHEN 'prompt_version' THEN t.prompt_version = %(value)s
                           ELSE t.segment ->> %(key)s = %(value)s END
        GROUP BY 1
        """,
        params,
    ).fetchall()
    return sorted((_stats(r) for r in [*rolled, *raw]), key=lambda r: r["day"])


def _stats(row: dict[str, Any]) -> dict[str, Any]:
    valued = int(row["valued"])
    mean = row["total"] / valued if valued else None
    variance = row["total_sq"] / valued - mean * mean if mean is not None else None
    return {
        "day": row["day"],
        "scored": int(row["scored"]),
        "valued": valued,
        "mean": mean,
        "variance": None if variance is None else max(variance, 0.0),
        "hist": list(row["hist"]),
    }
