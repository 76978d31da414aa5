"""The data the metrics benchmark writes (bench.backfill's RAG traces, re-timed, with a
``tenant`` segment; 4 scores each), the switch for migration 0008's triggers, and the CPU
time of a PostgreSQL backend (:mod:`bench._proc_cpu`)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench._proc_cpu import process_cpu as backend_cpu
from bench._scratch import Timing
from vigil.db.types import Conn
from vigil.models import Score, Trace
from vigil.store.scores import ScoreRow

EVALUATORS = ("groundedness", "context_relevance", "answer_relevance", "faithfulness")
TENANTS = 40  # a segment key with more values than the exporter's cap, so (other) is used
TRIGGERS = {  # migration 0008
    "traces": ("traces_completed_on_insert", "traces_completed_on_update"),
    "scores": ("scores_written",),
}


def make_traces(n: int, seed: int = 0) -> list[Trace]:
    """``n`` of bench.backfill's RAG traces, started within the last 23 hours (so that the
    exporter's segment ranking counts them), with a ``tenant`` segment of TENANTS values."""
    from bench.backfill import make_day  # imports Prefect: only when traces are needed

    rng, now = random.Random(seed), datetime.now(UTC)
    days = [make_day(seed * 100 + d, min(5000, n - d * 5000)) for d in range(-(-n // 5000))]
    out = []
    for t in (t for day in days for t in day):
        start = now - timedelta(seconds=rng.uniform(60, 23 * 3600))
        end = start + (t.end_time - t.start_time) if t.end_time else None
        segment = {**t.segment, "tenant": f"t{int(rng.paretovariate(1.2)) % TENANTS:02d}"}
        out.append(t.model_copy(update={"start_time": start, "end_time": end, "segment": segment}))
    return out


def make_scores(traces: list[Trace], seed: int = 0) -> list[ScoreRow]:
    rng = random.Random(seed)
    return [
        ScoreRow(t.id, name, "1", Score(status="scored", value=rng.random()))
        for t in traces
        for name in EVALUATORS
    ]


def set_triggers(conn: Conn, enabled: bool) -> None:
    """Enable or disable 0008's triggers (the bench's own database only)."""
    verb = "ENABLE" if enabled else "DISABLE"
    for table, names in TRIGGERS.items():
        conn.execute(f"ALTER TABLE {table} " + ", ".join(f"{verb} TRIGGER {n}" for n in names))


def empty(conn: Conn) -> None:
    conn.execute("TRUNCATE trace_ids, traces, spans, retrievals, scores, ingest_counts CASCADE")
    conn.execute("CHECKPOINT")


def marked(conn: Conn) -> tuple[int, int]:
    """Traces and scores carrying 0008's transaction marks."""
    row = conn.execute(
        "SELECT (SELECT count(completed_xid) FROM traces) AS t,"
        " (SELECT count(written_xid) FROM scores) AS s"
    ).fetchone()
    assert row is not None
    return int(row["t"]), int(row["s"])


def measured(work: Callable[[], object], backend: int) -> Timing:
    """Wall time of ``work`` and CPU time of this process and of the PostgreSQL ``backend``
    doing it (as ``db_cpu``)."""
    cpu, db, started = time.process_time(), backend_cpu(backend), time.perf_counter()
    work()
    wall = time.perf_counter() - started
    return Timing(wall, time.process_time() - cpu, 0.0, backend_cpu(backend) - db, 0.0)
