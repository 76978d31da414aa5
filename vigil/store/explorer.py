"""The trace explorer's reads: filtered, keyset-paginated search, one trace in full, and the
example traces that the CLI links to.

Every function takes ``apps``, the apps the viewer was granted (None: every app); a trace of
another app is never returned, not even by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.store import partitions

Cursor = tuple[datetime, str]  # (start_time, id) of a trace: the keyset position
COLUMN_KEYS = ("model", "prompt_version")  # segment keys stored as trace columns
LIST_COLUMNS = (
    "t.id, t.app, t.start_time, t.latency_ms, t.model, t.prompt_version, t.segment, t.status,"
    " t.input, t.tokens_in, t.tokens_out, t.cost_usd"
)


@dataclass(frozen=True)
class ScoreRange:
    """Traces with a score of ``evaluator`` (any version) within [low, high]."""

    evaluator: str
    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class Filters:
    """What the explorer narrows traces by; every field left empty filters nothing.

    ``segment`` holds key=value pairs: ``model`` and ``prompt_version`` match the trace's
    columns, any other key its ``segment`` object.
    """

    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    app: str | None = None
    segment: dict[str, str] = field(default_factory=dict)
    scores: tuple[ScoreRange, ...] = ()
    label: str | None = None  # a review label set on the trace
    status: str | None = None  # "ok" or "error"


@dataclass(frozen=True)
class Page:
    """One page of traces, newest first, and whether there are more on either side."""

    traces: list[dict[str, Any]]
    has_newer: bool
    has_older: bool

    @property
    def first(self) -> Cursor | None:
        return cursor_of(self.traces[0]) if self.traces else None

    @property
    def last(self) -> Cursor | None:
        return cursor_of(self.traces[-1]) if self.traces else None


def cursor_of(trace: dict[str, Any]) -> Cursor:
    return (trace["start_time"], trace["id"])


def search(
    conn: Conn,
    filters: Filters,
    apps: list[str] | None,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    limit: int = 50,
) -> Page:
    """Traces matching ``filters`` in (start_time DESC, id DESC) order, ``limit`` at most.

    Keyset pagination, never OFFSET: ``after`` is the last trace of the page before (older
    traces follow), ``before`` the first trace of the page after (the newer traces just
    above it). A page costs the same however deep it is.
    """
    if after is not None and before is not None:
        raise ValueError("page with after or before, not both")
    walk = bool(filters.scores) and _short_walk(conn, filters, apps, limit)
    where, params = _where(filters, apps, walk=walk)
    newer_first = before is None
    if after is not None or before is not None:
        at = after if after is not None else before
        assert at is not None
        # Spelt out rather than as a row comparison, so that ``start_time <=`` (or ``>=``)
        # bounds the scan of any index that leads with the time, filtered or not.
        sign = "<" if newer_first else ">"
        where.append(
            f"t.start_time {sign}= %(at_time)s AND"
            f" (t.start_time {sign} %(at_time)s OR t.id {sign} %(at_id)s)"
        )
        params.update(at_time=at[0], at_id=at[1])
    direction = "DESC" if newer_first else "ASC"
    # Never a prepared statement: after a few runs PostgreSQL may switch it to a generic
    # plan, which cannot see how narrow the cursor's time bound is and starts from the
    # scores instead of walking traces in time order (bench/ui: a deep page of a score
    # filter took 806 ms that way, 27 ms planned for its values).
    rows = conn.execute(
        f"SELECT {LIST_COLUMNS} FROM traces t WHERE {' AND '.join(where)}"
        f" ORDER BY t.start_time {direction}, t.id {direction} LIMIT %(limit)s",
        {**params, "limit": limit + 1},
        prepare=False,
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    if newer_first:
        return Page(rows, has_newer=after is not None, has_older=more)
    return Page(rows[::-1], has_newer=more, has_older=True)


# A page of a score-range filter is found one of two ways. Walking traces newest first and
# probing each one's scores costs (page / share matching) probes: a few thousand for a range
# that 1% of traces match (13 ms on 1M traces), but the whole window when almost none match.
# Past this many probes, PostgreSQL plans the score ranges as joins (about 200 ms over 1M).
WALK_PROBES = 20_000


def _short_walk(conn: Conn, filters: Filters, apps: list[str] | None, limit: int) -> bool:
    """Whether walking the traces finds a page within ``WALK_PROBES`` probes, by the
    planner's estimates: the traces in the window, and for each score range the scores in
    it (taken as independent). The estimate of the joined query itself is no use: the
    planner multiplies the selectivities of its id and partition keys, which go together."""

    def estimate(query: str, params: dict[str, Any]) -> float:
        plan = conn.execute(f"EXPLAIN (FORMAT JSON) {query}", params, prepare=False).fetchone()
        assert plan is not None
        return float(next(iter(plan.values()))[0]["Plan"]["Plan Rows"])

    where, params = _where(replace(filters, scores=()), apps)
    window = estimate(f"SELECT 1 FROM traces t WHERE {' AND '.join(where)}", params)
    share = 1.0
    for r in filters.scores:
        found = estimate(
            "SELECT 1 FROM scores s WHERE s.evaluator = %(ev)s AND s.status = 'scored'"
            " AND s.value BETWEEN %(lo)s AND %(hi)s"
            + (" AND s.trace_start >= %(start)s" if filters.start is not None else "")
            + (" AND s.app = %(app)s" if filters.app is not None else "")
            + (" AND s.app = ANY(%(apps)s)" if apps is not None else ""),
            {"ev": r.evaluator, "lo": r.low, "hi": r.high, "start": filters.start,
             "app": filters.app, "apps": apps},
        )  # fmt: skip
        share *= min(1.0, found / max(window, 1.0))
    return share > 0 and (limit + 1) / share <= WALK_PROBES


def _where(
    filters: Filters, apps: list[str] | None, walk: bool = False
) -> tuple[list[str], dict[str, Any]]:
    """The conditions on ``traces t`` and their parameters. ``walk``: each score range as a
    subquery run for each trace in turn, which PostgreSQL cannot turn into a join."""
    where = ["TRUE"]
    params: dict[str, Any] = {}
    if apps is not None:
        where.append("t.app = ANY(%(apps)s)")
        params["apps"] = list(apps)
    if filters.app is not None:
        where.append("t.app = %(app)s")
        params["app"] = filters.app
    if filters.start is not None:  # part_time >= start_time: recent partitions only
        where.append("t.start_time >= %(start)s AND t.part_time >= %(start)s")
        params["start"] = filters.start
    if filters.end is not None:
        where.append("t.start_time < %(end)s")
        params["end"] = filters.end
    for key in COLUMN_KEYS:
        if key in filters.segment:
            where.append(f"t.{key} = %({key})s")
            params[key] = filters.segment[key]
    rest = {k: v for k, v in filters.segment.items() if k not in COLUMN_KEYS}
    if rest:
        where.append("t.segment @> %(segment)s")
        params["segment"] = Jsonb(rest)
    for i, r in enumerate(filters.scores):
        scored = (
            "FROM scores s WHERE s.trace_id = t.id AND s.trace_start = t.part_time"
            + (" AND s.trace_start >= %(start)s" if filters.start is not None else "")
            + f" AND s.evaluator = %(ev{i})s AND s.status = 'scored'"
            f" AND s.value BETWEEN %(lo{i})s AND %(hi{i})s"
        )
        where.append(f"(SELECT true {scored} LIMIT 1)" if walk else f"EXISTS (SELECT 1 {scored})")
        params.update({f"ev{i}": r.evaluator, f"lo{i}": r.low, f"hi{i}": r.high})
    if filters.label is not None:
        where.append(
            "EXISTS (SELECT 1 FROM review_items ri WHERE ri.trace_id = t.id"
            " AND ri.label = %(label)s)"
        )
        params["label"] = filters.label
    if filters.status is not None:
        where.append("t.status = %(status)s")
        params["status"] = filters.status
    return where, params


def trace_detail(conn: Conn, trace_id: str, apps: list[str] | None) -> dict[str, Any] | None:
    """One trace in full, or None when it does not exist or its app was not granted.

    Keys: ``trace`` (the row, attributes included), ``spans`` (tree order, each with
    ``depth``, ``offset_ms`` from the trace's first start and ``duration_ms``),
    ``retrievals``, ``scores`` (every evaluator and version, with explanations),
    ``labels`` (its review items), ``regressions`` (see :func:`_regressions`).
    """
    known = conn.execute("SELECT part_time FROM trace_ids WHERE id = %s", (trace_id,)).fetchone()
    if known is None:
        return None
    key = {"id": trace_id, "part": known["part_time"]}  # every read below, one partition
    trace = conn.execute(
        "SELECT id, app, start_time, end_time, latency_ms, input, output, model,"
        " prompt_version, segment, tokens_in, tokens_out, cost_usd, status, user_feedback,"
        " attributes, complete FROM traces WHERE id = %(id)s AND part_time = %(part)s"
        " AND (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))",
        {**key, "apps": apps},
    ).fetchone()
    if trace is None:
        return None
    spans = conn.execute(
        "SELECT span_id, parent_span_id, kind, name, start_time, end_time, status, attributes"
        " FROM spans WHERE trace_id = %(id)s AND part_time = %(part)s"
        " ORDER BY start_time, span_id",
        key,
    ).fetchall()
    return {
        "trace": trace,
        "spans": waterfall(spans, trace["start_time"]),
        "retrievals": conn.execute(
            "SELECT span_id, rank, document_id, content, score FROM retrievals"
            " WHERE trace_id = %(id)s AND part_time = %(part)s ORDER BY span_id, rank",
            key,
        ).fetchall(),
        "scores": conn.execute(
            "SELECT evaluator, evaluator_version, status, value, measure, label, explanation,"
            " metadata, run_id, created_at FROM scores"
            " WHERE trace_id = %(id)s AND trace_start = %(part)s"
            " ORDER BY evaluator, evaluator_version",
            key,
        ).fetchall(),
        "labels": conn.execute(
            "SELECT id, regression_id, reason, status, label, note, reviewer, labeled_at,"
            " created_at FROM review_items WHERE trace_id = %s ORDER BY created_at, id",
            (trace_id,),
        ).fetchall(),
        "regressions": _regressions(conn, trace),
    }


def waterfall(spans: list[dict[str, Any]], trace_start: datetime) -> list[dict[str, Any]]:
    """Spans in tree order (each parent before its children, siblings by start), with
    ``depth``, ``offset_ms`` (from the earliest of the trace's and the spans' starts) and
    ``duration_ms`` (None while a span has not ended). A span whose parent is not among
    them is a root."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in sorted(spans, key=lambda s: (s["start_time"], s["span_id"])):
        parent = s["parent_span_id"] if s["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(s)
    origin = min([trace_start, *(s["start_time"] for s in spans)])
    out: list[dict[str, Any]] = []
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    seen: set[str] = set()
    while stack:
        span, depth = stack.pop()
        if span["span_id"] in seen:  # a cycle in the parent links: show each span once
            continue
        seen.add(span["span_id"])
        out.append(_timed(span, depth, origin))
        stack.extend((c, depth + 1) for c in reversed(children.get(span["span_id"], [])))
    out.extend(_timed(s, 0, origin) for s in spans if s["span_id"] not in seen)
    return out


def _timed(span: dict[str, Any], depth: int, origin: datetime) -> dict[str, Any]:
    start, end = span["start_time"], span["end_time"]
    return {
        **span,
        "depth": depth,
        "offset_ms": (start - origin).total_seconds() * 1000,
        "duration_ms": None if end is None else (end - start).total_seconds() * 1000,
    }


def _regressions(conn: Conn, trace: dict[str, Any]) -> list[dict[str, Any]]:
    """The regressions a trace belongs to: those that queued it for review, and those of its
    app whose incident (first_seen .. last_seen) contains its start and whose segment it
    matches (its segment object plus its model and prompt_version; {} matches any trace)."""
    return conn.execute(
        """
        SELECT r.id, r.metric, r.evaluator, r.evaluator_version, r.segment, r.status,
               r.headline, r.first_seen, r.last_seen,
               EXISTS (SELECT 1 FROM review_items i WHERE i.trace_id = %(id)s
                       AND i.regression_id = r.id) AS queued_it
        FROM regressions r
        WHERE r.id IN (SELECT regression_id FROM review_items WHERE trace_id = %(id)s)
           OR (r.app = %(app)s AND r.first_seen <= %(at)s AND %(at)s < r.last_seen
               AND %(segment)s @> r.segment)
        ORDER BY r.last_seen DESC, r.id DESC
        """,
        {"id": trace["id"], "app": trace["app"], "at": trace["start_time"],
         "segment": Jsonb(_full_segment(trace))},
    ).fetchall()  # fmt: skip


def _full_segment(trace: dict[str, Any]) -> dict[str, Any]:
    columns = {k: trace[k] for k in COLUMN_KEYS if trace[k] is not None}
    return {**trace["segment"], **columns}


def options(conn: Conn, apps: list[str] | None) -> dict[str, list[str]]:
    """What the filters offer, among the granted apps: ``apps``, ``models`` and
    ``prompt_versions`` of completed traces, and ``evaluators`` of final scores.

    Read from the daily rollups (refresh them first: :func:`vigil.store.rollups.refresh`),
    over the days whose traces (scores) retention kept: a few thousand rows for a year,
    where the traces themselves would cost a probe of every weekly partition a value."""
    kept = partitions.kept_from(conn)
    params = {"apps": apps, "traces": kept["traces"], "scores": kept["scores"]}
    found: dict[str, set[str]] = {"apps": set(), "models": set(), "prompt_versions": set(),
                                  "evaluators": set()}  # fmt: skip
    for r in conn.execute(
        """
        SELECT DISTINCT app, model, prompt_version FROM trace_daily
        WHERE (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
          AND (%(traces)s::timestamptz IS NULL
               OR day >= (%(traces)s::timestamptz AT TIME ZONE 'UTC')::date)
        """,
        params,
    ):
        found["apps"].add(r["app"])
        found["models"].add(r["model"])
        found["prompt_versions"].add(r["prompt_version"])
    for r in conn.execute(
        """
        SELECT DISTINCT evaluator FROM score_daily
        WHERE (%(apps)s::text[] IS NULL OR app = ANY(%(apps)s))
          AND (%(scores)s::timestamptz IS NULL
               OR day >= (%(scores)s::timestamptz AT TIME ZONE 'UTC')::date)
        """,
        params,
    ):
        found["evaluators"].add(r["evaluator"])
    return {name: sorted(values - {""}) for name, values in found.items()}


def any_trace(conn: Conn, apps: list[str] | None) -> bool:
    """Whether any trace of the apps is stored: the rollups behind :func:`options` hold only
    completed traces, and a new app's first traces may still be receiving spans."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM trace_ids"
        " WHERE %(apps)s::text[] IS NULL OR app = ANY(%(apps)s)) AS found",
        {"apps": apps},
    ).fetchone()
    return bool(row and row["found"])


def run_examples(conn: Conn, run_ids: list[int]) -> dict[int, str]:
    """One trace each run points at, for runs that have one: a trace whose evaluation
    errored in it, else the trace of a run over a single trace (``vigil evaluate --trace``).
    A run's traces start in its window, so only the partitions from its start are read."""
    rows = conn.execute(
        """
        SELECT r.id, COALESCE(
            CASE WHEN r.errors > 0 THEN (
                SELECT min(s.trace_id) FROM scores s
                WHERE s.run_id = r.id AND s.status = 'error'
                  AND s.trace_start >= r.window_start) END,
            CASE WHEN r.traces_total = 1 THEN (
                SELECT min(s.trace_id) FROM scores s
                WHERE s.run_id = r.id AND s.trace_start >= r.window_start) END) AS trace_id
        FROM eval_runs r WHERE r.id = ANY(%s)
        """,
        (run_ids,),
    ).fetchall()
    return {r["id"]: r["trace_id"] for r in rows if r["trace_id"] is not None}
