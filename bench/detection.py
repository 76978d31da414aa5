"""Detection: incidents found, how soon, with the right segment, and false alarms.

Worlds from the benchmark's own generator (:mod:`bench.worlds`: each seed its own app,
models, routes, indexes, tenants, volume and diurnal curve, on the demo corpus) go through
the real path: the knowledge base is loaded into PGVector with the packaged MiniLM model
and every trace retrieves from it; each world's traces are written to a JSONL file and
stored by ``vigil.ingest.jsonl.ingest_file``; then each day, oldest first, is evaluated and
detected by the ``evaluate-window`` flow's own body (``flows.evaluate_window.run_window``
with the tasks' plain functions, as ``bench/backfill`` runs it: no Prefect server), with
the settings' detection defaults. The regressions each day's pass returns are read back
from the ``regressions`` table. Worlds run one after the other in one scratch database,
emptied in between, so no world sees another.

Per seed there is one world for each of the six incident kinds (see :mod:`bench.worlds`;
7 to 9 baseline days, then 3 incident days) and one clean world. Worlds with a quality
incident, and the clean ones, are scored by ``groundedness`` and ``context_relevance``
(MiniLM); the others by ``latency_ms`` and ``tokens`` only, measures the detector does not
read: cost, tokens, latency and errors come from the traces' own columns, whatever is
evaluated. Every trace is evaluated (sample rate 1).

Measured, per incident kind and seed: detected (a regression of one of the incident's
metrics, ``bench.incidents.EXPECTED``, returned by a pass on one of its days); windows (days)
from its first day to the first such pass (0: its first day); whether the segment named
first (``attribution[0].segment`` in the ``regressions`` table) by that day's regression of
the incident's primary metric (groundedness or context relevance score, output or input
tokens, latency p95) contains the true ``key=value``, and, for information, whether every
regression of its metrics that day does (cost too), and whether the primary one names
exactly the true segment (the route too, for a new prompt version on one route). False
alarms: regressions opened or reopened on clean days, the days before an incident and every
day of a clean world, from the second day on (a pass on the first has no baseline); those
of the days with a whole baseline (``VIGIL_BASELINE_DAYS``, 7) are also counted apart.

Targets (the issue's): every incident found in the first window whose true segment holds
the detector's minimum sample (``VIGIL_DETECT_MIN_WINDOW_N``, 30; found at all, if no day
of it does); the true segment named first; at most one false alarm per 30 clean days.

Scale: ``VIGIL_BENCH_DETECTION_SEEDS`` (5) seeds from ``VIGIL_BENCH_DETECTION_FIRST_SEED``
(1), ``VIGIL_BENCH_DETECTION_PER_DAY`` (150 traces on a weekday, times 0.9-1.35 by seed),
``VIGIL_BENCH_DETECTION_CLEAN_DAYS`` (21 per clean world); ``VIGIL_BENCH_DETECTION_KINDS``
(all) picks incident kinds, comma-separated, and "clean" (one case again:
``..._SEEDS=1 ..._FIRST_SEED=4 ..._KINDS=slow_model``). ``VIGIL_DATABASE_URL`` puts the
scratch database on that server instead of a throwaway embedded one. At the default scale,
35 worlds and about 70,000 traces, it took about 5 minutes on the 2-core development
machine: the MiniLM evaluators are fast here (several hundred scores/s) because the demo
corpus's sentences and words repeat and the provider caches their embeddings; a detection
pass takes 0.3-1.5 s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

import vigil  # noqa: F401  (telemetry off, before Prefect is imported)
from bench import Row
from bench._ports import free_port
from bench._scratch import environment, postgres, say, scratch_database
from bench.detection_outcomes import Found, Outcome, summarize, verdict
from bench.incidents import KINDS, QUALITY_KINDS
from bench.worlds import Search, World, plan, write_jsonl
from cli.demo.corpus import build_corpus
from cli.supervisor import stack
from flows.evaluation import BatchOutcome
from vigil.db import connect, migrate
from vigil.db.types import Conn
from vigil.embeddings import load_embeddings
from vigil.ingest.jsonl import ingest_file
from vigil.knowledge_base import PGVectorStore, load_documents
from vigil.models import Retrieval
from vigil.sampling import SamplingPolicy
from vigil.settings import Settings, load_settings

SEEDS = int(os.environ.get("VIGIL_BENCH_DETECTION_SEEDS", "5"))
FIRST_SEED = int(os.environ.get("VIGIL_BENCH_DETECTION_FIRST_SEED", "1"))  # to rerun one case
PER_DAY = int(os.environ.get("VIGIL_BENCH_DETECTION_PER_DAY", "150"))
CLEAN_DAYS = int(os.environ.get("VIGIL_BENCH_DETECTION_CLEAN_DAYS", "21"))
CHOSEN = [
    k.strip()
    for k in os.environ.get("VIGIL_BENCH_DETECTION_KINDS", ",".join([*KINDS, "clean"])).split(",")
    if k.strip()
]
QUALITY = ["groundedness", "context_relevance"]
OPERATIONAL = ["latency_ms", "tokens"]
SAMPLE_RATE = 1.0
DATABASE = "vigil_bench_detection"
COLLECTION = "vigil-bench-detection-docs"
RESET = (
    "TRUNCATE trace_ids, traces, spans, retrievals, scores, eval_claims, eval_runs, regressions,"
    " review_items, review_events, sampling_policies RESTART IDENTITY CASCADE"
)
LOG = logging.getLogger("bench.detection")


# -- the database and the knowledge base --------------------------------------------------
def load_knowledge_base(url: str) -> int:
    """The demo corpus in the bench's PGVector collection, embedded by MiniLM."""
    corpus = build_corpus()
    docs = [Document(page_content=d.text, metadata={"title": d.title, "topic": d.topic})
            for d in corpus]  # fmt: skip
    return load_documents(url, COLLECTION, docs, [d.id for d in corpus], embeddings())


def embeddings() -> Embeddings:
    return load_embeddings(load_settings().embedding_model)


def searcher(conn: Conn) -> Search:
    """Real retrieval from the knowledge base: the question embedded by MiniLM, the k
    nearest chunks by HNSW; cached, since the worlds ask the same questions again."""
    store, model = PGVectorStore(conn, COLLECTION), embeddings()
    vectors: dict[str, list[float]] = {}
    hits: dict[tuple[str, int], list[Retrieval]] = {}

    def search(question: str, k: int) -> list[Retrieval]:
        if (question, k) not in hits:
            if question not in vectors:
                vectors[question] = model.embed_query(question)
            hits[(question, k)] = [
                Retrieval(document_id=h.document_id, content=h.content,
                          score=round(h.similarity, 4), rank=rank)
                for rank, h in enumerate(store.search(vectors[question], k))
            ]  # fmt: skip
        return hits[(question, k)]

    return search


# -- one world -----------------------------------------------------------------------------
def run_world(conn: Conn, w: World, search: Search, folder: Path) -> Outcome:
    """Store the world through the JSONL ingest, then evaluate and detect day by day with
    the ``evaluate-window`` flow's body; what each day's pass returned, read back."""
    from flows.evaluate_window import detect_task, evaluate_task, run_window
    from flows.resources import Budget

    conn.execute(RESET)
    path = folder / "world.jsonl"
    counts = write_jsonl(w, search, path)
    started = time.perf_counter()
    report = ingest_file(conn, path)
    n = sum(c.traces for c in counts)
    if report.errors or report.stored != n:
        raise RuntimeError(f"{w.name}: stored {report.stored} of {n}: {report.errors[:3]}")
    ingest_s = time.perf_counter() - started
    quality = w.incident is None or w.incident.kind in QUALITY_KINDS
    names = QUALITY if quality else OPERATIONAL
    outcome, seen = Outcome(w, counts), dict[int, int]()  # id -> times reopened

    def evaluate(
        ids: list[str], names: list[str], run: int, policy: SamplingPolicy, budget: Budget | None
    ) -> BatchOutcome:
        started = time.perf_counter()
        try:
            return evaluate_task.fn(ids, names, run, policy, budget)
        finally:
            outcome.evaluate_s += time.perf_counter() - started

    def detect(end: datetime, app: str | None, run: int | None) -> list[int]:
        started = time.perf_counter()
        try:
            return detect_task.fn(end, app, run)
        finally:
            outcome.detect_s += time.perf_counter() - started

    started = time.perf_counter()
    for day in range(w.days):
        window = (w.day_start(day), w.day_start(day + 1))
        result = run_window(
            window, None, names, "backfill", SAMPLE_RATE, LOG, evaluate=evaluate, detect=detect
        )
        outcome.scored += result["scored"]
        for row in regressions(conn, result["regressions"]):
            new = seen.get(row["id"], -1) < row["reopened"]  # opened, or reopened, today
            seen[row["id"]] = row["reopened"]
            attribution = row["attribution"] or [{}]
            outcome.found.append(Found(
                row["id"], day, new, row["metric"], row["evaluator"], row["segment"],
                attribution[0].get("segment", {}), row["headline"] or "",
            ))  # fmt: skip
    outcome.seconds = time.perf_counter() - started
    say(
        f"  {w.name}: {n:,} traces ingested in {ingest_s:.1f} s; {w.days} days in "
        f"{outcome.seconds:.1f} s: {outcome.scored:,} scores ({', '.join(names)}) in "
        f"{outcome.evaluate_s:.1f} s, detection {outcome.detect_s:.1f} s; {verdict(outcome)}"
    )
    for f in outcome.found:
        if f.new:
            say(f"      day {f.day}: #{f.id} {f.headline}")
    return outcome


def regressions(conn: Conn, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    return conn.execute(
        "SELECT id, metric, evaluator, segment, attribution, headline, reopened"
        " FROM regressions"
        " WHERE id = ANY(%s) ORDER BY id",
        (ids,),
    ).fetchall()


# -- all worlds ----------------------------------------------------------------------------
def worlds() -> Iterator[World]:
    for seed in range(FIRST_SEED, FIRST_SEED + SEEDS):
        for kind in CHOSEN:
            yield plan(seed, None if kind == "clean" else kind, PER_DAY, CLEAN_DAYS)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so that the scratch server is stopped either way."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run() -> list[Row]:
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with contextlib.ExitStack() as ctx:
        ctx.enter_context(terminate_as_interrupt())
        admin_url, _ = ctx.enter_context(postgres())
        url = ctx.enter_context(scratch_database(admin_url, DATABASE))
        home = Path(ctx.enter_context(tempfile.TemporaryDirectory(prefix="vigil-bench-det-")))
        settings = Settings(home=home, host="127.0.0.1", prefect_port=free_port(), database_url=url)
        ctx.enter_context(environment({
            "VIGIL_DATABASE_URL": url, "VIGIL_HOME": str(home),
            "VIGIL_KB_COLLECTION": COLLECTION, **stack.prefect_env(settings),
        }))  # fmt: skip
        with connect(url, autocommit=True) as conn:
            migrate(conn)
        took = time.perf_counter()
        docs = load_knowledge_base(url)
        say(
            f"bench.detection: {SEEDS} seed(s) x {', '.join(CHOSEN)}; ~{PER_DAY} traces a "
            f"weekday; knowledge base: {docs} documents ({time.perf_counter() - took:.1f} s)"
        )
        conn = ctx.enter_context(connect(url, autocommit=True))
        search = searcher(conn)
        for w in worlds():
            say(f"  {w.describe()}")
            outcomes.append(run_world(conn, w, search, home))
    scale = f"{SEEDS} seed(s), ~{PER_DAY} traces a weekday, {CLEAN_DAYS}-day clean worlds"
    text, rows = summarize(outcomes, scale)
    traces = sum(c.traces for o in outcomes for c in o.counts)
    print(text, flush=True)
    scored, evaluate_s = sum(o.scored for o in outcomes), sum(o.evaluate_s for o in outcomes)
    passes, detect_s = sum(o.world.days for o in outcomes), sum(o.detect_s for o in outcomes)
    say(
        f"bench.detection: {len(outcomes)} worlds, {traces:,} traces; {scored:,} scores in "
        f"{evaluate_s:.0f} s ({scored / max(evaluate_s, 1e-9):,.0f}/s); {passes} detection "
        f"passes in {detect_s:.0f} s; wall {time.perf_counter() - started:.0f} s"
    )
    return rows


if __name__ == "__main__":
    from bench import table

    print(table(run()))
