"""What the Prometheus metrics (migration 0008, docs/metrics.md) cost on the write path.

Everything runs on one throwaway embedded PostgreSQL (:func:`bench._db.scratch_database`);
the triggers are disabled only there. Each Vigil number (0008 as committed) stands beside
the same work without the part measured:

1. **store**: ``insert_traces`` of ``VIGIL_BENCH_METRICS_TRACES`` (5,000) RAG traces (those of
   ``bench.backfill``, re-timed into the last day) in one transaction, then ``upsert_scores``
   of 4 scores each, with 0008's triggers enabled vs disabled (``ALTER TABLE ... DISABLE
   TRIGGER``). Disabled, ``completed_xid`` and ``written_xid`` stay NULL, so the partial
   indexes on them get no entries either: that is the write path before 0008. Each
   repetition starts from empty tables, the two orders alternate, and the table gives the
   median of ``VIGIL_BENCH_METRICS_REPS`` (15), after one repetition of each not counted:
   wall time, and the CPU time of the PostgreSQL backend doing the work, which a busy
   neighbour on a small machine disturbs far less.
2. **receiver**: spans stored per second through the receiver's app under uvicorn with the
   default 2 workers, loaded by ``bench.ingest``'s senders (``VIGIL_BENCH_METRICS_SENDERS``
   (4) keep-alive connections, ``VIGIL_BENCH_METRICS_OTLP_TRACES`` (5,000) traces of 3 spans
   a run, encoded before timing). With
   counting off, each worker's app comes from :func:`uncounted_app`, a bench-only factory
   that makes ``add_ingest_counts`` a no-op in that process: the tally still runs, the
   statement is gone. Counting off with the triggers disabled as well is the receiver
   without 0008. Both receivers run throughout; the configurations alternate, median of
   ``VIGIL_BENCH_METRICS_OTLP_REPS`` (7) after one run of each not counted, of spans/s and
   of spans per CPU second of the receiver and PostgreSQL. Then the counting statement
   alone (a batch's 5 counts, one transaction a call) beside a batch's whole write.
3. **exporter**: an exporter whose mark is set over an empty database, then
   ``VIGIL_BENCH_METRICS_EXPORTER_TRACES`` (20,000) traces and 4 scores each are written:
   the time of its next refresh, which reads them all, beside a refresh with no new rows,
   and the series it exports (without ``*_created``, as ``vigil metrics serve``) beside the
   bound docs/metrics.md gives for 2 apps and 4 evaluators.

A quick run: ``VIGIL_BENCH_METRICS_TRACES=1000 VIGIL_BENCH_METRICS_REPS=3
VIGIL_BENCH_METRICS_OTLP_REPS=1 VIGIL_BENCH_METRICS_OTLP_TRACES=1000
VIGIL_BENCH_METRICS_EXPORTER_TRACES=4000
python -m bench bench.metrics_overhead``.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from bench import Row
from bench._db import scratch_database
from bench._metrics_data import (
    EVALUATORS,
    empty,
    make_scores,
    make_traces,
    marked,
    measured,
    set_triggers,
)
from bench._ports import free_port
from bench._scratch import Timing, timed
from bench.ingest import Result, _wait_http, run_load, vigil_peer
from bench.phoenix_peer import Peer
from vigil.db import connect
from vigil.models import Trace
from vigil.settings import Settings
from vigil.store.keys import create_key
from vigil.store.scores import ScoreRow, upsert_scores
from vigil.store.traces import insert_traces

if TYPE_CHECKING:
    from starlette.applications import Starlette

TRACES = int(os.environ.get("VIGIL_BENCH_METRICS_TRACES", "5000"))
REPS = int(os.environ.get("VIGIL_BENCH_METRICS_REPS", "15"))
SENDERS = int(os.environ.get("VIGIL_BENCH_METRICS_SENDERS", "4"))
OTLP_TRACES = int(os.environ.get("VIGIL_BENCH_METRICS_OTLP_TRACES", "5000"))
OTLP_REPS = int(os.environ.get("VIGIL_BENCH_METRICS_OTLP_REPS", "7"))
EXPORTER_TRACES = int(os.environ.get("VIGIL_BENCH_METRICS_EXPORTER_TRACES", "20000"))
CHUNK = 2500  # traces a transaction when filling the exporter's database
WORKERS = int(Settings.model_fields["otlp_workers"].default)
ROOT = Path(__file__).resolve().parent.parent


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def spread(ratios: list[float]) -> str:
    """Ratios as their median and range."""
    low, mid, high = min(ratios), statistics.median(ratios), max(ratios)
    return f"{mid:.3f}x (from {low:.3f} to {high:.3f})"


# -- 1. the store -----------------------------------------------------------------------------
def store_once(url: str, traces: list[Trace], scores: list[ScoreRow], triggers: bool,
               ) -> tuple[Timing, Timing]:  # fmt: skip
    """Insert ``traces``, then upsert ``scores``, each in one transaction; the timing of each."""
    with connect(url, autocommit=True) as conn:
        empty(conn)
        set_triggers(conn, triggers)
        row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
        assert row is not None

        def insert() -> None:
            with conn.transaction():
                insert_traces(conn, traces)

        def upsert() -> None:
            with conn.transaction():
                upsert_scores(conn, scores, run_id=None)

        inserted, upserted = measured(insert, row["pid"]), measured(upsert, row["pid"])
        expected = (len(traces), len(scores)) if triggers else (0, 0)
        if marked(conn) != expected:
            raise RuntimeError(f"triggers {'on' if triggers else 'off'}: marks {marked(conn)}")
    return inserted, upserted


def bench_store(url: str) -> list[Row]:
    traces = make_traces(TRACES)
    scores = make_scores(traces)
    runs: dict[bool, list[tuple[Timing, Timing]]] = {True: [], False: []}
    for rep in range(REPS + 1):  # repetition 0 warms up and is not counted
        for triggers in (True, False) if rep % 2 else (False, True):
            t, s = store_once(url, traces, scores, triggers)
            state = "on " if triggers else "off"
            say(f"  store rep {rep} triggers {state}: traces {t.wall:.3f} s (backend CPU"
                f" {t.db_cpu:.3f} s), scores {s.wall:.3f} s ({s.db_cpu:.3f} s)")  # fmt: skip
            if rep:
                runs[triggers].append((t, s))
    with connect(url, autocommit=True) as conn:
        set_triggers(conn, True)
    rows = []
    for i, (call, what, n) in enumerate((("insert_traces", "traces", len(traces)),
                                         ("upsert_scores", "scores", len(scores)))):  # fmt: skip
        on, off = ([r[i] for r in runs[k]] for k in (True, False))
        for metric, of in ((f"{what}/s", _wall), (f"{what}/backend CPU-s", _db)):
            pairs = spread([of(a) / of(b) for a, b in zip(on, off, strict=True)])
            say(f"  store {call} {metric}: with/without the triggers, {pairs} of the time,"
                " pair by pair")  # fmt: skip
            rows.append(Row("metrics_overhead", f"{call} {n:,} {what}, median of {REPS}", metric,
                            n / _median(on, of), "0008 triggers disabled",
                            n / _median(off, of)))  # fmt: skip
    return rows


def _wall(t: Timing) -> float:
    return t.wall


def _db(t: Timing) -> float:
    return t.db_cpu


def _all_cpu(t: Timing) -> float:
    """CPU seconds of the receiver (with its workers) and PostgreSQL."""
    return t.server_cpu + t.db_cpu


def _median(timings: list[Timing], of: Callable[[Timing], float]) -> float:
    return statistics.median(of(t) for t in timings)


# -- 2. the receiver --------------------------------------------------------------------------
def _no_count(*_: object, **__: object) -> None:
    """In place of ``add_ingest_counts``: counts nothing."""


def uncounted_app() -> Starlette:
    """The receiver's app (for ``uvicorn --factory``, in each worker) with the statement
    that adds ingest counts replaced by a no-op: a bench-only patch, never used elsewhere."""
    from vigil.otlp import counting, server

    counting.add_ingest_counts = _no_count
    return server.app_from_environment()


@contextmanager
def receiver(url: str, key: str, name: str, factory: str) -> Iterator[Peer]:
    """``vigil serve-otlp``'s uvicorn run (``WORKERS`` workers) of the app from ``factory``."""
    port, home = free_port(), tempfile.TemporaryDirectory(prefix="vigil-bench-home-")
    env = {**os.environ, "VIGIL_DATABASE_URL": url, "VIGIL_HOME": home.name}
    code = (f"import uvicorn; uvicorn.run({factory!r}, factory=True, workers={WORKERS},"
            f" host='127.0.0.1', port={port}, log_level='warning')")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{port}/health")

        yield vigil_peer(name, url, port, key, proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        home.cleanup()


def load(target: Peer, pg: int) -> tuple[Result, Timing]:
    """One run of bench.ingest's load, with the CPU of the receiver and of PostgreSQL."""
    results: list[Result] = []
    _, t = timed(lambda: results.append(run_load(target, SENDERS, OTLP_TRACES)), pg, target.pid)
    return results[0], t


def bench_receiver(url: str, pg: int) -> list[Row]:
    with connect(url, autocommit=True) as conn:
        empty(conn)
        _, key = create_key(conn, "bench", "bench")
    counted = receiver(url, key, "counting on", "vigil.otlp.server:app_from_environment")
    uncounted = receiver(url, key, "counting off", "bench.metrics_overhead:uncounted_app")
    configs = ("0008", "no counting", "no 0008")
    runs: dict[str, list[Timing]] = {c: [] for c in configs}
    sent = OTLP_TRACES * 3
    with counted as on, uncounted as off:
        for rep in range(OTLP_REPS + 1):  # run 0 warms up and is not counted
            for config in configs if rep % 2 else configs[::-1]:
                with connect(url, autocommit=True) as conn:
                    set_triggers(conn, config != "no 0008")
                target = on if config == "0008" else off
                result, t = load(target, pg)
                say(f"  receiver rep {rep} {config:11}: {result.rate:,.0f} spans/s "
                    f"({result.stored}/{result.sent} stored), receiver CPU {t.server_cpu:.1f} s,"
                    f" PostgreSQL CPU {t.db_cpu:.1f} s, others {t.others_cpu:.1f} s")  # fmt: skip
                if result.stored != result.sent or result.sent != sent:
                    raise RuntimeError(f"{config}: {result.sent - result.stored} spans lost")
                if rep:
                    runs[config].append(replace(t, wall=result.seconds))
    with connect(url, autocommit=True) as conn:
        set_triggers(conn, True)
        counts = conn.execute("SELECT count(*) AS n FROM ingest_counts").fetchone()
    say(f"  receiver: {counts['n'] if counts else 0} ingest_counts rows (from 'counting on')")
    case = f"receiver, {SENDERS} senders, {sent:,} spans, median of {OTLP_REPS}"
    rows = []
    for metric, of in (("spans/s", _wall), ("spans/CPU-s (receiver + PostgreSQL)", _all_cpu)):
        for config, name in (("no counting", "counting patched off (in-process)"),
                             ("no 0008", "counting off + triggers disabled")):  # fmt: skip
            pairs = spread([of(b) / of(a) for a, b in zip(runs["0008"], runs[config], strict=True)])
            say(f"  receiver {metric}: 0008 / {config}: {pairs}, pair by pair")
            rows.append(Row("metrics_overhead", case, metric, sent / _median(runs["0008"], of),
                            name, sent / _median(runs[config], of)))  # fmt: skip
    batch = 512 * _median(runs["0008"], _all_cpu) / sent
    return [*rows, Row("metrics_overhead", "receiver, ingest counts of one 512-span batch",
                       "CPU ms", 1000 * count_statement(url), "writing the batch (CPU ms)",
                       1000 * batch)]  # fmt: skip


def count_statement(url: str, calls: int = 400) -> float:
    """PostgreSQL CPU seconds of the statement a stored batch adds (its 5 counts, a random
    shard), each call in a transaction of its own: an upper bound, since in the receiver it
    shares the batch's commit."""
    from vigil.otlp.counting import SHARDS
    from vigil.store.metrics import IngestCount, add_ingest_counts

    outcomes = (("received", "", 512), ("stored", "", 500), ("duplicate", "", 6),
                ("rejected", "invalid_span", 3), ("rejected", "other_app", 3))  # fmt: skip
    counts = [IngestCount("bench", o, r, int(o == "received"), n) for o, r, n in outcomes]
    rng = random.Random(0)
    with connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
        assert row is not None

        def add() -> None:
            for _ in range(calls):
                with conn.transaction():
                    add_ingest_counts(conn, counts, shard=rng.randrange(SHARDS))

        return measured(add, row["pid"]).db_cpu / calls


# -- 3. the exporter --------------------------------------------------------------------------
def series(text: str) -> int:
    """Samples in an exposition, without ``*_created`` (off in ``vigil metrics serve``)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        1
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created")
    )


def documented_bound(apps: int, evaluators: int, values: int) -> int:
    """docs/metrics.md, "How many series": per app and per segment, totals left out."""
    return apps * (13 * evaluators + 32 + 5 * (values + 1) * (13 * evaluators + 30))


def bench_exporter(url: str, pg: int) -> list[Row]:
    from vigil.metrics import Exporter

    traces = make_traces(EXPORTER_TRACES, seed=1)
    scores = make_scores(traces, seed=1)
    values = int(Settings.model_fields["metrics_max_segment_values"].default)
    with connect(url, autocommit=True) as conn:
        empty(conn)
    exporter = Exporter(url, max_segment_values=values)
    exporter.refresh()  # sets the mark: what is written from now on is read next time
    per, rows = len(EVALUATORS), len(traces) + len(scores)

    def write() -> None:
        with connect(url, autocommit=True) as conn:
            for i in range(0, len(traces), CHUNK):
                with conn.transaction():
                    insert_traces(conn, traces[i : i + CHUNK])
                    upsert_scores(conn, scores[i * per : (i + CHUNK) * per], run_id=None)

    writing = timed(write, None)[1].wall
    with connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE traces, scores")
    _, t = timed(exporter.refresh, None)
    first, idle = t.wall, timed(exporter.refresh, None)[1].wall
    text, scrape = exporter.exposition().decode(), timed(exporter.exposition, None)[1].wall
    found, bound = series(text), documented_bound(2, len(EVALUATORS), values)
    say(f"  exporter: wrote {rows:,} rows in {writing:.1f} s; first refresh {first:.2f} s "
        f"(exporter CPU {t.cpu:.2f} s), idle refresh "
        f"{idle:.3f} s; exposition {scrape * 1000:.0f} ms, {len(text) / 1e6:.1f} MB, "
        f"{found:,} series")  # fmt: skip
    case = f"exporter, 1st refresh after {len(traces):,} traces + {len(scores):,} scores"
    refresh_s = float(Settings.model_fields["metrics_refresh_s"].default)
    return [
        Row("metrics_overhead", case, "rows/s", rows / first,
            "writing them (insert_traces, upsert_scores)", rows / writing),
        Row("metrics_overhead", case, "s", first, "VIGIL_METRICS_REFRESH_S default",
            refresh_s, higher_is_better=False),
        Row("metrics_overhead", "exporter, refresh with no new rows", "s", idle,
            "VIGIL_METRICS_REFRESH_S default", refresh_s, higher_is_better=False),
        Row("metrics_overhead", "exporter, series (2 apps, 4 evaluators)", "series", found,
            "docs/metrics.md bound", bound, higher_is_better=False),
    ]  # fmt: skip


def run() -> list[Row]:
    say("  load average before: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    with scratch_database("vigil_metrics_bench") as url:
        with connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
            assert row is not None
            pg = psutil.Process(int(row["pid"])).ppid()  # the postmaster
        parts: dict[str, Callable[[], list[Row]]] = {
            "store": partial(bench_store, url),
            "receiver": partial(bench_receiver, url, pg),
            "exporter": partial(bench_exporter, url, pg),
        }
        rows = []
        for name, part in parts.items():
            started = time.perf_counter()
            rows += part()
            say(f"  {name} done in {time.perf_counter() - started:.0f} s, load average "
                "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))  # fmt: skip
        return rows


if __name__ == "__main__":
    from bench import table

    print(table(run()))
