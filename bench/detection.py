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
metrics, ``bench.worlds.EXPECTED``, returned by a pass on one of its days); windows (days)
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
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

import vigil  # noqa: F401  (telemetry off, before Prefect is imported)
from bench import Row
from bench._ports import free_port
from bench._scratch import environment, postgres, say, scratch_database
from bench.worlds import EXPECTED, KINDS, QUALITY_KINDS, DayCount, Search, World, plan, write_jsonl
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
TARGET_FALSE_ALARMS = 1.0  # per 30 clean days
RESET = (
    "TRUNCATE traces, spans, retrievals, scores, eval_claims, eval_runs, regressions,"
    " review_items, review_events, sampling_policies RESTART IDENTITY CASCADE"
)
LOG = logging.getLogger("bench.detection")


@dataclass(frozen=True)
class Found:
    """A regression a day's pass returned, as the ``regressions`` table holds it then."""

    id: int
    day: int
    new: bool  # opened (or reopened) by this day's pass
    metric: str
    evaluator: str
    segment: dict[str, str]
    named: dict[str, str]  # attribution[0].segment
    headline: str

    def names(self, key: str, value: str) -> bool:
        return self.named.get(key) == value


@dataclass
class Outcome:
    world: World
    counts: list[DayCount]
    found: list[Found] = field(default_factory=list)
    seconds: float = 0.0  # evaluating and detecting, every day
    evaluate_s: float = 0.0
    detect_s: float = 0.0
    scored: int = 0

    @property
    def kind(self) -> str:
        return self.world.incident.kind if self.world.incident else "clean"

    @property
    def clean_days(self) -> list[int]:
        """Days whose pass had a baseline and no incident."""
        inc = self.world.incident
        last = self.world.days if inc is None else inc.start_day
        return list(range(1, last))

    @property
    def full_clean_days(self) -> list[int]:
        """Clean days whose baseline is the whole ``VIGIL_BASELINE_DAYS``."""
        return [d for d in self.clean_days if d >= load_settings().baseline_days]

    @property
    def false_alarms(self) -> list[Found]:
        clean = set(self.clean_days)
        return [f for f in self.found if f.new and f.day in clean]

    @property
    def full_false_alarms(self) -> list[Found]:
        return [f for f in self.false_alarms if f.day in self.full_clean_days]

    @property
    def hits(self) -> list[Found]:
        """Regressions of the incident's metrics on its days."""
        inc = self.world.incident
        if inc is None:
            return []
        want = EXPECTED[inc.kind]
        return [f for f in self.found if inc.on(f.day) and (f.metric, f.evaluator) in want]

    @property
    def others(self) -> list[Found]:
        """Regressions of other metrics opened on the incident's days: consequences of it
        (groundedness when retrieval degrades, latency with longer answers) or not."""
        inc = self.world.incident
        if inc is None:
            return []
        want = EXPECTED[inc.kind]
        return [f for f in self.found
                if f.new and inc.on(f.day) and (f.metric, f.evaluator) not in want]  # fmt: skip

    @property
    def delay(self) -> int | None:
        """Windows from the incident's first day to its first detection (None: missed)."""
        inc = self.world.incident
        if inc is None or not self.hits:
            return None
        return min(f.day for f in self.hits) - inc.start_day

    @property
    def sampled_delay(self) -> int | None:
        """Windows from the incident's first day to its first day whose true segment has the
        detector's minimum sample (None: none has)."""
        inc, n = self.world.incident, load_settings().detect_min_window_n
        if inc is None:
            return None
        days = [d for d in range(inc.start_day, inc.start_day + inc.days)
                if self.counts[d].in_segment >= n]  # fmt: skip
        return days[0] - inc.start_day if days else None

    @property
    def on_time(self) -> bool:
        """Found by the first window with the minimum sample (found at all, if none has)."""
        if self.delay is None:
            return False
        return self.sampled_delay is None or self.delay <= self.sampled_delay

    @property
    def first_hits(self) -> list[Found]:
        """The regressions of the incident's metrics on its detection day, primary first."""
        inc = self.world.incident
        if inc is None or self.delay is None:
            return []
        order = EXPECTED[inc.kind]
        first = [f for f in self.hits if f.day == inc.start_day + self.delay]
        return sorted(first, key=lambda f: order.index((f.metric, f.evaluator)))

    @property
    def named_right(self) -> bool:
        """The segment named first by the detection day's regression of the incident's
        primary metric (else the first of its metrics found) holds the true key=value."""
        inc, first = self.world.incident, self.first_hits
        return inc is not None and bool(first) and first[0].names(inc.key, inc.value)

    @property
    def named_right_everywhere(self) -> bool:
        """... in every regression of the incident's metrics that day (cost too)."""
        inc, first = self.world.incident, self.first_hits
        return inc is not None and bool(first) and all(f.names(inc.key, inc.value) for f in first)

    @property
    def named_exactly(self) -> bool:
        """The primary regression names the true key=value and nothing else (but the route
        the new prompt version serves)."""
        inc = self.world.incident
        if inc is None or not self.named_right:
            return False
        true = {inc.key: inc.value, **({"route": inc.route} if inc.route else {})}
        return self.first_hits[0].named.items() <= true.items()


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
        ids: list[str], names: list[str], run: int, policy: SamplingPolicy
    ) -> BatchOutcome:
        started = time.perf_counter()
        try:
            return evaluate_task.fn(ids, names, run, policy)
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
        f"{outcome.evaluate_s:.1f} s, detection {outcome.detect_s:.1f} s; {_verdict(outcome)}"
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


def _verdict(o: Outcome) -> str:
    inc = o.world.incident
    alarms = len(o.false_alarms)
    clean = f"{alarms} false alarm(s) in {len(o.clean_days)} clean days"
    if inc is None:
        return clean
    if o.delay is None:
        return f"MISSED {inc.segment}; {clean}"
    late = "" if o.on_time else " (LATE)"
    named = "; ".join(
        f"{f.metric} names {_segment(f.named)} "
        + ("(right)" if f.names(inc.key, inc.value) else f"(WRONG; tested {_segment(f.segment)})")
        for f in o.first_hits
    )
    return f"found after {o.delay} window(s){late}: {named}; {clean}"


def _segment(segment: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items()) or "(whole app)"


# -- all worlds ----------------------------------------------------------------------------
def worlds() -> Iterator[World]:
    for seed in range(FIRST_SEED, FIRST_SEED + SEEDS):
        for kind in CHOSEN:
            yield plan(seed, None if kind == "clean" else kind, PER_DAY, CLEAN_DAYS)


def per_30(alarms: int, days: int) -> float:
    return 30 * alarms / days if days else float("nan")


def _alarms(group: list[Outcome], full: bool = False) -> tuple[str, float]:
    """False alarms per 30 clean days (only those with a whole baseline: ``full``), as
    text with the counts, and the rate."""
    days = sum(len(o.full_clean_days if full else o.clean_days) for o in group)
    alarms = sum(len(o.full_false_alarms if full else o.false_alarms) for o in group)
    rate = per_30(alarms, days)
    return f"{rate:.2f} ({alarms} in {days} d)", rate


def _table(header: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return out


def revision() -> str:
    """The commit measured, and whether the detector's code has local changes."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        head = git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = git("status", "--porcelain", "--", "vigil", "flows", "evaluators")
    except OSError:
        return "unknown commit"
    return f"commit {head}" + (" with local changes in vigil/flows/evaluators" if dirty else "")


def summarize(outcomes: list[Outcome]) -> tuple[str, list[Row]]:
    """The per-incident table (with the targets, met or missed, and the failed cases) and
    the rows of the benchmark table."""
    settings = load_settings()
    lines = [
        f"detection ({revision()}): {SEEDS} seed(s), ~{PER_DAY} traces a weekday, "
        f"{CLEAN_DAYS}-day clean worlds.",
        f"Targets: found in the first window whose true segment has >= "
        f"{settings.detect_min_window_n} traces; the true segment named first by the "
        "incident's primary metric; <= 1 false alarm per 30 clean days.",
        "'all its metrics': cost too; 'exactly': nothing but the true segment named; 'other "
        "metrics': regressions of other metrics opened on the incident's days. Clean days: "
        f"before the incident, from day 1; 'full baseline': from day {settings.baseline_days}.",
    ]
    header = ("incident", "detected", "in 1st window", "median windows", "true segment first",
              "all its metrics", "exactly", "other metrics", "false alarms/30 clean d",
              "full baseline", "target")  # fmt: skip
    body: list[tuple[str, ...]] = []
    rows: list[Row] = []
    failures: list[Outcome] = []
    for kind in [*KINDS, "clean"]:
        group = [o for o in outcomes if o.kind == kind]
        if not group:
            continue
        alarms, full = _alarms(group)[0], _alarms(group, full=True)[0]
        if kind == "clean":
            body.append(("clean worlds", "", "", "", "", "", "", "", alarms, full, ""))
            continue
        n = len(group)
        detected = [o.delay for o in group if o.delay is not None]
        on_time = sum(o.on_time for o in group)
        named = sum(o.named_right for o in group)
        everywhere = sum(o.named_right_everywhere for o in group)
        exactly = sum(o.named_exactly for o in group)
        median = f"{statistics.median(detected):g}" if detected else "-"
        met = "met" if on_time == n and named == n else "missed"
        others = str(sum(len(o.others) for o in group))
        body.append((kind, f"{len(detected)}/{n}", f"{on_time}/{n}", median, f"{named}/{n}",
                     f"{everywhere}/{n}", f"{exactly}/{n}", others, alarms, full, met))  # fmt: skip
        case = f"{kind}, {n} seeds"
        rows += [
            Row("detection", case, "found in 1st window %", 100 * on_time / n, "target", 100.0),
            Row("detection", case, "true segment first %", 100 * named / n, "target", 100.0),
        ]
        failures += [o for o in group if not o.on_time or not o.named_right_everywhere]
    (alarms, rate), (full, full_rate) = _alarms(outcomes), _alarms(outcomes, full=True)
    met = "met" if rate <= TARGET_FALSE_ALARMS else "missed"
    met += f" ({'met' if full_rate <= TARGET_FALSE_ALARMS else 'missed'} on full baselines)"
    body.append(("all clean days", "", "", "", "", "", "", "", alarms, full, met))
    days = sum(len(o.clean_days) for o in outcomes)
    full_days = sum(len(o.full_clean_days) for o in outcomes)
    rows += [
        Row("detection", f"{days} clean days", "false alarms / 30 days", rate, "target",
            TARGET_FALSE_ALARMS, higher_is_better=False),
        Row("detection", f"{full_days} of them with a full baseline", "false alarms / 30 days",
            full_rate, "target", TARGET_FALSE_ALARMS, higher_is_better=False),
    ]  # fmt: skip
    lines += _table(header, body)
    if failures:
        lines.append("late, missed or misnamed (in any of its metrics) incidents:")
    for o in failures:
        inc = o.world.incident
        assert inc is not None
        sizes = [f"{c.in_segment}/{c.traces}" for c in o.counts[inc.start_day :][: inc.days]]
        lines.append(
            f"  {o.world.name}: true {inc.segment}, traces in it / all on its days "
            f"{', '.join(sizes)}; {_verdict(o)}"
        )
        for f in o.first_hits or [f for f in o.found if inc.on(f.day)]:
            lines.append(f"      day {f.day - inc.start_day}: {f.headline}")
    alarmed = [(o, f) for o in outcomes for f in o.false_alarms]
    if alarmed:
        lines.append("false alarms (day: the world's day, 0 = its first):")
    for o, f in alarmed:
        lines.append(f"  {o.world.name}, day {f.day}: {f.headline}")
    return "\n".join(lines), rows


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
    text, rows = summarize(outcomes)
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
