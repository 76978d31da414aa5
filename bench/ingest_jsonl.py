"""JSONL import throughput, against the ceiling of raw COPY of the same rows.

Vigil validates every line (pydantic), skips ids already stored and writes traces, spans and
retrievals in one transaction a batch. The reference loads exactly the same rows with
PostgreSQL's COPY and no validation: what the database alone can take.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import Row
from bench._db import scratch_database
from cli.demo.corpus import build_corpus
from cli.demo.traffic import DemoPlan, generate_traffic
from vigil.db import connect
from vigil.ingest.jsonl import ingest_file
from vigil.models import Retrieval, Trace
from vigil.store.traces import (
    RETRIEVAL_COLUMNS,
    SPAN_COLUMNS,
    TRACE_COLUMNS,
    retrieval_rows,
    span_rows,
    trace_row,
)

TRACES = 5_000


def _traces() -> list[Trace]:
    corpus = build_corpus()

    def retrieve(question: str) -> list[Retrieval]:  # fixed chunks: this measures storage only
        start = hash(question) % (len(corpus) - 4)
        return [
            Retrieval(document_id=d.id, content=d.text, score=0.5, rank=i)
            for i, d in enumerate(corpus[start : start + 4])
        ]

    plan = DemoPlan(
        end=datetime(2026, 6, 30, 23, 0, tzinfo=UTC), days=30, per_day=TRACES // 29, seed=3
    )
    return list(generate_traffic(plan, retrieve))[:TRACES]


def _copy(url: str, traces: list[Trace]) -> None:
    """The same rows by COPY, into the partitions ``ingest_file`` made (each row's
    ``part_time`` is its trace's start), with the ``trace_ids`` rows."""
    tables = (
        ("trace_ids", "id, app", lambda t: [(t.id, t.app)]),
        ("traces", TRACE_COLUMNS, lambda t: [trace_row(t)]),
        ("spans", SPAN_COLUMNS, span_rows),
        ("retrievals", RETRIEVAL_COLUMNS, retrieval_rows),
    )
    with connect(url) as conn, conn.cursor() as cur:
        for table, columns, rows_of in tables:
            with cur.copy(f"COPY {table} ({columns}, part_time) FROM STDIN") as copy:
                for t in traces:
                    for row in rows_of(t):
                        copy.write_row((*row, t.start_time))


def run() -> list[Row]:
    traces = _traces()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.jsonl"
        path.write_text("\n".join(json.dumps(t.model_dump(mode="json")) for t in traces) + "\n")
        with scratch_database("vigil_ingest") as url:
            with connect(url, autocommit=True) as conn:
                t0 = time.perf_counter()
                report = ingest_file(conn, path)
                vigil_s = time.perf_counter() - t0
                assert report.stored == len(traces) and not report.errors
                t0 = time.perf_counter()
                again = ingest_file(conn, path)
                rerun_s = time.perf_counter() - t0
                assert again.stored == 0
                conn.execute("TRUNCATE trace_ids, traces, spans, retrievals")
            t0 = time.perf_counter()
            _copy(url, traces)
            copy_s = time.perf_counter() - t0
    n = len(traces)
    return [
        Row("ingest_jsonl", f"{n} RAG traces", "traces/s", n / vigil_s, "raw COPY", n / copy_s),
        Row("ingest_jsonl", f"re-import of {n}", "traces/s", n / rerun_s, "raw COPY", n / copy_s),
    ]
