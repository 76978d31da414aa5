"""The data ``bench.ui`` and ``bench.partitions`` read: traces, scores, regressions and
review items over 30 days (or more), written with ``COPY`` (psycopg's copy) from rows
generated here, into the weekly partitions (each trace's ``part_time`` is its start)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from vigil.db.types import Conn
from vigil.store import partitions

APPS = (("support-bot", 0.4), ("search-bot", 0.3), ("sales-bot", 0.2), ("docs-bot", 0.1))
EVALUATORS = ("groundedness", "context_relevance", "answer_relevance", "faithfulness")
ROUTES = ("billing", "refunds", "shipping", "account", "other")
TENANTS = 25
CHUNK = 20_000  # rows a COPY write
TRACE_COLUMNS = (
    "id, app, start_time, end_time, latency_ms, model, prompt_version, segment, tokens_in,"
    " tokens_out, cost_usd, status, part_time"
)
SCORE_COLUMNS = "trace_id, app, trace_start, evaluator, evaluator_version, value, measure, status"


def _model(app: int, day: float) -> str:
    """Each app starts on one model; the second app moves to another on day 20."""
    if app == 1 and day >= 20:
        return "gpt-y"
    return ("gpt-x-mini", "gpt-x")[app % 2]


def _prompt(app: int, day: float) -> str:
    """New prompt versions on days 8 and 19 (one day later for each app)."""
    shifted = day - app
    return "v3" if shifted >= 19 else "v2" if shifted >= 8 else "v1"


def _rows(n: int, start: datetime, days: int, seed: int) -> Iterator[tuple[str, str, str]]:
    """Tab-separated COPY lines: one trace, its trace_ids row, then its five scores."""
    rng = random.Random(seed)
    weights = [w for _, w in APPS]
    span = days * 86400.0
    for i in range(n):
        at = i / n * span + rng.uniform(0, 60)
        day = at / 86400
        app = rng.choices(range(len(APPS)), weights)[0]
        name = APPS[app][0]
        when = start + timedelta(seconds=at)
        latency = math.exp(rng.gauss(7.0, 0.5))
        tokens_in, tokens_out = rng.randint(200, 3000), rng.randint(20, 600)
        cost = (tokens_in * 0.15 + tokens_out * 0.6) / 1e6
        segment = json.dumps({"route": rng.choice(ROUTES), "tenant": f"t{rng.randrange(TENANTS)}"})
        status = "error" if rng.random() < 0.01 else "ok"
        trace_id = f"b{i:08d}"
        stamp = when.isoformat()
        end = (when + timedelta(milliseconds=latency)).isoformat()
        trace = (
            f"{trace_id}\t{name}\t{stamp}\t{end}\t{latency:.1f}\t{_model(app, day)}\t"
            f"{_prompt(app, day)}\t{segment}\t{tokens_in}\t{tokens_out}\t{cost:.7f}\t{status}\t"
            f"{stamp}\n"
        )
        base = 0.8 - (0.15 if _prompt(app, day) == "v3" and app == 0 else 0.0)
        scores = []
        for evaluator in EVALUATORS:
            r = rng.random()
            if r < 0.02:
                scores.append(f"{trace_id}\t{name}\t{stamp}\t{evaluator}\t1\t\\N\t\\N\terror\n")
            elif r < 0.06:
                scores.append(f"{trace_id}\t{name}\t{stamp}\t{evaluator}\t1\t\\N\t\\N\tskipped\n")
            else:
                value = min(1.0, max(0.0, rng.gauss(base, 0.2)))
                scores.append(
                    f"{trace_id}\t{name}\t{stamp}\t{evaluator}\t1\t{value:.4f}\t\\N\tscored\n"
                )
        scores.append(f"{trace_id}\t{name}\t{stamp}\tcost\t1\t\\N\t{cost:.7f}\tscored\n")
        yield trace, f"{trace_id}\t{stamp}\t{name}\n", "".join(scores)


def fill(conn: Conn, n: int, start: datetime, days: int = 30, seed: int = 0) -> None:
    """``n`` traces from ``start`` over ``days`` and five scores each (four evaluators with a
    [0, 1] value, ``cost`` with a measure), in one transaction: a COPY of the traces, then
    one of the scores (kept in memory meanwhile: about 400 bytes a trace)."""
    traces: list[str] = []
    ids: list[str] = []
    scores: list[str] = []
    partitions.ensure(conn, [start + timedelta(days=d) for d in range(days + 1)])
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(f"COPY traces ({TRACE_COLUMNS}) FROM STDIN") as copy:
            for trace, trace_id, score in _rows(n, start, days, seed):
                traces.append(trace)
                ids.append(trace_id)
                scores.append(score)
                if len(traces) == CHUNK:
                    copy.write("".join(traces))
                    traces.clear()
            copy.write("".join(traces))
        with cur.copy("COPY trace_ids (id, part_time, app) FROM STDIN") as copy:
            for i in range(0, len(ids), CHUNK):
                copy.write("".join(ids[i : i + CHUNK]))
        with cur.copy(f"COPY scores ({SCORE_COLUMNS}) FROM STDIN") as copy:
            for i in range(0, len(scores), CHUNK):
                copy.write("".join(scores[i : i + CHUNK]))


def fill_review(
    conn: Conn, labelled: int = 3000, pending: int = 500, regressions: int = 40
) -> None:
    """Regressions (a quarter open), the daily audit sample labelled from the groundedness
    score with a reviewer's noise, and a pending queue."""
    conn.execute(
        """
        INSERT INTO regressions (app, metric, evaluator, evaluator_version, window_start,
            window_end, baseline_start, baseline_end, window_mean, baseline_mean, window_n,
            baseline_n, delta, z, status, headline, first_seen, last_seen, segment)
        SELECT a.app, 'score', 'groundedness', '1', now() - make_interval(days => g),
               now() - make_interval(days => g - 1), now() - make_interval(days => g + 7),
               now() - make_interval(days => g), 0.6, 0.8, 500, 3500, -0.2, -5,
               CASE WHEN g %% 4 = 0 THEN 'open' ELSE 'resolved' END,
               'score of groundedness worse by 0.2', now() - make_interval(days => g),
               now() - make_interval(days => g - 1), jsonb_build_object('route', 'r' || g)
        FROM generate_series(1, %(n)s) g, (VALUES ('support-bot'), ('search-bot')) a(app)
        """,
        {"n": regressions // 2},
    )
    conn.execute(
        """
        INSERT INTO review_items (trace_id, reason, audit_day, status, label, reviewer,
                                  labeled_at)
        SELECT s.trace_id, 'audit sample', (s.trace_start AT TIME ZONE 'UTC')::date, 'labeled',
               CASE WHEN s.value + (random() - 0.5) * 0.4 < 0.5 THEN 'hallucinated'
                    ELSE 'correct' END, 'ana', s.trace_start + interval '1 day'
        FROM scores s
        WHERE s.evaluator = 'groundedness' AND s.status = 'scored'
          AND s.id %% (SELECT count(*) / %(n)s FROM scores WHERE evaluator = 'groundedness') = 0
        LIMIT %(n)s
        """,
        {"n": labelled},
    )
    conn.execute(
        """
        INSERT INTO review_items (trace_id, reason, score, evaluator)
        SELECT s.trace_id, 'low groundedness', s.value, 'groundedness' FROM scores s
        WHERE s.evaluator = 'groundedness' AND s.status = 'scored' AND s.value < 0.3
          AND NOT EXISTS (SELECT 1 FROM review_items i WHERE i.trace_id = s.trace_id)
        ORDER BY s.id DESC LIMIT %(n)s
        """,
        {"n": pending},
    )
