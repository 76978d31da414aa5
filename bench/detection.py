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

Measured, per incident kind: detected (a regression of the incident's metric on one of its
days), windows (days) from its first day to the first such regression, whether the segment
named first (``attribution[0].segment``) of each such regression on that day contains the
true ``key=value``, and false alarms: regressions opened on clean days (the days before an
incident from the second day on, when a pass has a baseline, and every clean world's days
from the second), per 30 clean days. Targets (the issue's): every incident detected in the
first window whose true segment holds the detector's minimum sample
(``VIGIL_DETECT_MIN_WINDOW_N``); the true segment named first; at most one false alarm per
30 clean days.

Scale: ``VIGIL_BENCH_DETECTION_SEEDS`` (5), ``VIGIL_BENCH_DETECTION_PER_DAY`` (150 traces on
a weekday, times 0.9-1.35 by seed), ``VIGIL_BENCH_DETECTION_CLEAN_DAYS`` (14 per clean
world); ``VIGIL_BENCH_DETECTION_KINDS`` (all) picks incident kinds, comma-separated, and
"clean". ``VIGIL_DATABASE_URL`` puts the scratch database on that server instead of a
throwaway embedded one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

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
PER_DAY = int(os.environ.get("VIGIL_BENCH_DETECTION_PER_DAY", "150"))
CLEAN_DAYS = int(os.environ.get("VIGIL_BENCH_DETECTION_CLEAN_DAYS", "14"))
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
    new: bool  # first returned on this day, in this world
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
    def side_effects(self) -> list[Found]:
        inc = self.world.incident
        if inc is None:
            return []
        want = EXPECTED[inc.kind]
        return [f for f in self.found if inc.on(f.day) and (f.metric, f.evaluator) not in want
                and f.new]  # fmt: skip

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
        return self.delay is not None and self.delay <= (self.sampled_delay or 0)

    @property
    def first_hits(self) -> list[Found]:
        inc = self.world.incident
        if inc is None or self.delay is None:
            return []
        return [f for f in self.hits if f.day == inc.start_day + self.delay]

    @property
    def named_right(self) -> bool:
        """Each regression of the incident's metrics on its detection day names first a
        segment with the true key=value."""
        inc = self.world.incident
        first = self.first_hits
        return inc is not None and bool(first) and all(f.names(inc.key, inc.value) for f in first)

    @property
    def named_exactly(self) -> bool:
        """... and nothing else (but the route a new prompt version serves)."""
        inc = self.world.incident
        if inc is None or not self.named_right:
            return False
        true = {inc.key: inc.value, **({"route": inc.route} if inc.route else {})}
        return all(f.named.items() <= true.items() for f in self.first_hits)


# -- the database and the knowledge base --------------------------------------------------
def load_knowledge_base(url: str) -> int:
    corpus = build_corpus()
    from langchain_core.documents import Document

    docs = [Document(page_content=d.text, metadata={"title": d.title, "topic": d.topic})
            for d in corpus]  # fmt: skip
    return load_documents(url, COLLECTION, docs, [d.id for d in corpus], embeddings())


def embeddings() -> Any:
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
    outcome, seen = Outcome(w, counts), set()

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
            attribution = row["attribution"] or [{}]
            found = Found(row["id"], day, row["id"] not in seen, row["metric"],
                          row["evaluator"], row["segment"],
                          attribution[0].get("segment", {}), row["headline"] or "")  # fmt: skip
            seen.add(row["id"])
            outcome.found.append(found)
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
        "SELECT id, metric, evaluator, segment, attribution, headline FROM regressions"
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
    right = "right" if o.named_right else "WRONG"
    named = "; ".join(sorted({_segment(f.named) for f in o.first_hits}))
    return f"detected after {o.delay} window(s), named first {named} ({right}); {clean}"


def _segment(segment: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items()) or "(whole app)"


# -- all worlds ----------------------------------------------------------------------------
def worlds() -> Iterator[World]:
    for seed in range(1, SEEDS + 1):
        for kind in CHOSEN:
            yield plan(seed, None if kind == "clean" else kind, PER_DAY, CLEAN_DAYS)


def per_30(alarms: int, days: int) -> float:
    return 30 * alarms / days if days else float("nan")


def _alarms(group: list[Outcome]) -> tuple[str, float]:
    """False alarms per 30 clean days, as text with the counts (and those of the days with
    a whole baseline), and the rate."""
    days = sum(len(o.clean_days) for o in group)
    alarms = sum(len(o.false_alarms) for o in group)
    full_days = sum(len(o.full_clean_days) for o in group)
    full = sum(len(o.full_false_alarms) for o in group)
    rate = per_30(alarms, days)
    return f"{rate:.2f} ({alarms} in {days} d; {full} in {full_days} d of full baseline)", rate


def summarize(outcomes: list[Outcome]) -> tuple[str, list[Row]]:
    """The per-incident table (with the targets, met or missed, and the failed cases) and
    the rows of the benchmark table."""
    min_n = load_settings().detect_min_window_n
    lines = [
        f"detection: {SEEDS} seed(s), ~{PER_DAY} traces a weekday, {CLEAN_DAYS}-day clean "
        f"worlds. Targets: detected in the first window whose true segment has >= {min_n} "
        "traces; true segment named first; <= 1 false alarm per 30 clean days",
    ]
    header = ("incident", "detected", "in 1st window", "median windows", "true segment first",
              "(exactly)", "false alarms/30 clean days", "target")  # fmt: skip
    body: list[tuple[str, ...]] = []
    rows: list[Row] = []
    failures: list[Outcome] = []
    for kind in [*KINDS, "clean"]:
        group = [o for o in outcomes if o.kind == kind]
        if not group:
            continue
        fa_text, _ = _alarms(group)
        if kind == "clean":
            body.append(("clean worlds", "-", "-", "-", "-", "-", fa_text, ""))
            continue
        n = len(group)
        detected = [o.delay for o in group if o.delay is not None]
        on_time = sum(o.on_time for o in group)
        named = sum(o.named_right for o in group)
        median = f"{statistics.median(detected):g}" if detected else "-"
        met = "met" if on_time == n and named == n else "missed"
        body.append((kind, f"{len(detected)}/{n}", f"{on_time}/{n}", median, f"{named}/{n}",
                     f"{sum(o.named_exactly for o in group)}/{n}", fa_text, met))  # fmt: skip
        case = f"{kind}, {n} seeds"
        rows += [
            Row("detection", case, "detected in 1st window %", 100 * on_time / n,
                "target", 100.0),
            Row("detection", case, "true segment first %", 100 * named / n, "target", 100.0),
        ]  # fmt: skip
        failures += [o for o in group if not o.on_time or not o.named_right]
    fa_text, rate = _alarms(outcomes)
    met = "met" if rate <= TARGET_FALSE_ALARMS else "missed"
    body.append(("all clean days", "-", "-", "-", "-", "-", fa_text, met))
    days = sum(len(o.clean_days) for o in outcomes)
    rows.append(Row("detection", f"{days} clean days", "false alarms / 30 days", rate,
                    "target", TARGET_FALSE_ALARMS, higher_is_better=False))  # fmt: skip
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=True)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    if failures:
        lines.append("missed, late or misnamed incidents:")
    for o in failures:
        inc = o.world.incident
        assert inc is not None
        day0 = o.counts[inc.start_day]
        lines.append(
            f"  {o.world.name}: true {inc.segment}, {day0.in_segment} of {day0.traces} traces "
            f"in it on its first day ({day0.affected} changed); {_verdict(o)}"
        )
        for f in o.first_hits or [f for f in o.found if inc.on(f.day)]:
            lines.append(f"      day {f.day - inc.start_day}: {f.headline}")
    alarmed = [(o, f) for o in outcomes for f in o.false_alarms]
    if alarmed:
        lines.append("false alarms (day: the world's day, 0 = its first):")
    for o, f in alarmed:
        lines.append(f"  {o.world.name}, day {f.day}: {f.headline}")
    return "\n".join(lines), rows


def run() -> list[Row]:
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with contextlib.ExitStack() as ctx:
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
    say(
        f"bench.detection: {len(outcomes)} worlds, {traces:,} traces, "
        f"{sum(o.scored for o in outcomes):,} scores, wall {time.perf_counter() - started:.0f} s"
    )
    return rows


if __name__ == "__main__":
    from bench import table

    print(table(run()))
