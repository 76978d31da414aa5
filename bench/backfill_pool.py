"""Backfill on a work pool: the same judge-bound backfill in one process, and fanned out
over one, then two, Prefect workers.

``VIGIL_BENCH_POOL_DAYS`` (6) days of ``VIGIL_BENCH_POOL_PER_DAY`` (60) synthetic RAG
traces (``bench.backfill.make_day``: seeded, the same every run) go into a fresh, migrated
database (a throwaway embedded PostgreSQL, or a scratch database on the server of
``VIGIL_DATABASE_URL``). Each trace is scored by ``judge_groundedness`` at sample rate 1.

The judge is a deterministic local fake (``vigil.testing.fake_openai.FakeOpenAIServer``, in
this process) that answers every request after a fixed ``VIGIL_BENCH_POOL_JUDGE_LATENCY_S``
(0.25 s). So this measures orchestration and judge-bound parallelism, not a model: how many
judge requests the backfill keeps in flight, and what submitting days to workers costs.

Each process allows ``VIGIL_JUDGE_CONCURRENCY`` = 4 judge requests in flight. ``vigil
deploy`` runs with ``VIGIL_JUDGE_CONCURRENCY`` = 16, so the global limit it creates on the
Prefect server (``vigil-judge-openai_compatible-fake-judge``) is 16: as many as the widest
path can ask for (4 day runs x 4), so it never binds, and what is measured is the fan-out.
(With one value for both, the global limit would cap every path at 4 in flight, and two
workers could not go faster than one: that is the limit's purpose, tested in
``tests/orchestration/test_fan_out_pool.py``.)

One Prefect server (started as ``vigil up`` starts it, its database on the same PostgreSQL)
serves every path; ``vigil deploy`` puts the deployments on the ``vigil-process`` pool, and
one coordinator worker takes the ``backfill`` queue. The same ``vigil backfill
--evaluator judge_groundedness --sample-rate 1`` then runs through each path, timed from
the command's start to its exit:

A. ``--local``: every day in the command's own process, one after another, as child flow
   runs recorded on the server (what a backfill did before the fan-out). The reference.
B. the pool, one day worker (``--work-queue default --limit 1``), ``--parallel 2``;
C. the pool, two day workers (``--limit 1`` each), ``--parallel 2``;
D. the pool, two day workers with ``--limit 2`` each, ``--parallel 4``
   (``VIGIL_BENCH_POOL_WIDE=0`` leaves it out).

Before each path scores, claims, runs, regressions, review items and judge budgets are
truncated; after it, every trace must have exactly one final score (scored or skipped) and
every day a completed run, or the benchmark fails. On the pool, each day is a flow run in a
new process (it imports Vigil and TruLens), found by a worker that polls the server every
``PREFECT_WORKER_QUERY_SECONDS`` (Prefect's default, 10 s, unless set); that start-up is
part of the measured time, as it is for a user. The CPU seconds of each process (this one,
with the fake judge; the command; the workers with their flow runs; the Prefect server;
PostgreSQL; the rest of the machine) are printed on stderr per path, and their sum per
judge request (start-up included): each request also takes a slot of the global limit on
the Prefect server and adds to the backfill's budget row, so on a small machine the CPU,
not the judge, may be what binds. The paths run one after the other on a shared 2-core
machine: other work there shows in the last figure and skews the comparison when it is
large. The default run took 10.5 to 12.5 minutes there, with other work using up to about
a core (150 traces a day took 20).
"""

from __future__ import annotations

import contextlib
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import vigil  # noqa: F401  (telemetry off, before Prefect is imported)
from bench import Row
from bench._pool import vigil as vigil_command
from bench._pool import workers
from bench._ports import free_port
from bench._scratch import (
    Timing,
    _cpu,
    asyncpg_url,
    postgres,
    prefect_server,
    say,
    scratch_database,
    timed,
)
from bench.backfill import FIRST_DAY, make_day, reset
from cli.supervisor import stack
from vigil.db import connect, migrate
from vigil.settings import Settings
from vigil.store.traces import insert_traces
from vigil.testing.fake_openai import FakeOpenAIServer

DAYS = int(os.environ.get("VIGIL_BENCH_POOL_DAYS", "6"))
PER_DAY = int(os.environ.get("VIGIL_BENCH_POOL_PER_DAY", "60"))
LATENCY_S = float(os.environ.get("VIGIL_BENCH_POOL_JUDGE_LATENCY_S", "0.25"))
WIDE = os.environ.get("VIGIL_BENCH_POOL_WIDE", "1") != "0"
PER_PROCESS = 4  # VIGIL_JUDGE_CONCURRENCY of the command and of each flow run
GLOBAL_LIMIT = 16  # VIGIL_JUDGE_CONCURRENCY of `vigil deploy`: the limit across workers
EVALUATOR = "judge_groundedness"
DATABASE = "vigil_bench_backfill_pool"
PREFECT_DATABASE = "vigil_bench_backfill_pool_prefect"
FINAL = ("scored", "skipped")


@dataclass(frozen=True)
class Variant:
    key: str
    label: str  # for the table's case
    day_workers: int  # 0: --local, no pool
    limit: int = 1
    parallel: int = 2


LOCAL = Variant("A", "--local, days in turn in one process", 0)
PATHS = [
    LOCAL,
    Variant("B", "pool, 1 day worker --limit 1, --parallel 2", 1),
    Variant("C", "pool, 2 day workers --limit 1, --parallel 2", 2),
    *([Variant("D", "pool, 2 day workers --limit 2, --parallel 4", 2, 2, 4)] if WIDE else []),
]


@dataclass(frozen=True)
class Outcome:
    timing: Timing
    command_cpu: float  # the `vigil backfill` process
    workers_cpu: float  # the workers and their flow-run processes
    requests: int  # judge requests the fake judge answered
    max_in_flight: int
    began: datetime  # when the command started and ended, to place the day runs
    ended: datetime


def load_traces(url: str) -> int:
    with connect(url, autocommit=True) as conn:
        inserted = 0
        for day in range(DAYS):
            with conn.transaction():
                inserted += insert_traces(conn, make_day(day, PER_DAY)).inserted
        conn.execute("VACUUM ANALYZE")
    return inserted


def check(url: str, path: Variant) -> None:
    """Every trace scored exactly once (a final score), every day's run completed."""
    with connect(url, autocommit=True) as conn:
        per_trace = conn.execute(
            "SELECT count(*) FILTER (WHERE n = 1) AS once, count(*) AS traces, "
            "count(*) FILTER (WHERE n = 0) AS missing FROM (SELECT t.id, count(s.id) AS n"
            " FROM traces t LEFT JOIN scores s ON s.trace_id = t.id AND s.evaluator = %s"
            " AND s.status = ANY(%s) GROUP BY t.id) per",
            (EVALUATOR, list(FINAL)),
        ).fetchone()
        days = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'completed') AS ok, count(*) AS n"
            " FROM eval_runs WHERE kind = 'backfill'"
        ).fetchone()
        errors = conn.execute("SELECT count(*) AS n FROM scores WHERE status = 'error'").fetchone()
    assert per_trace is not None and days is not None and errors is not None
    if per_trace["once"] != per_trace["traces"] or per_trace["traces"] != DAYS * PER_DAY:
        raise RuntimeError(
            f"{path.key} ({path.label}): {per_trace['once']:,} of {per_trace['traces']:,} "
            f"traces have exactly one final {EVALUATOR} score ({per_trace['missing']:,} have "
            f"none, {errors['n']:,} error scores); want all {DAYS * PER_DAY:,}"
        )
    if days["ok"] != DAYS:
        raise RuntimeError(f"{path.key}: {days['ok']} of {days['n']} day runs completed")


def log_days(url: str, o: Outcome) -> None:
    """How long the day runs themselves took (from their ``eval_runs`` rows), and when the
    first started and the last ended: the rest of the wall time is starting and waiting."""
    with connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) AS n, sum(extract(epoch FROM finished_at - started_at)) AS busy,"
            " min(started_at) AS first, max(finished_at) AS last FROM eval_runs"
            " WHERE kind = 'backfill' AND status = 'completed'"
        ).fetchone()
    assert row is not None
    n, busy = int(row["n"]), float(row["busy"] or 0)
    say(
        f"    {n} day runs took {busy:.1f} s in all ({busy / max(n, 1):.1f} s each, from "
        f"their rows' start to finish); the first started "
        f"{(row['first'] - o.began).total_seconds():.1f} s after the command, the last "
        f"ended {(o.ended - row['last']).total_seconds():.1f} s before it returned"
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_path(
    path: Variant, env: dict[str, str], folder: Path, judge: FakeOpenAIServer, pids: dict[str, int]
) -> Outcome:
    """One ``vigil backfill`` through ``path``, with its day workers started before the
    clock and stopped after it."""
    end = FIRST_DAY + timedelta(days=DAYS)
    args = ["backfill", "--evaluator", EVALUATOR, "--sample-rate", "1",
            "--start", f"{FIRST_DAY:%Y-%m-%d}", "--end", f"{end:%Y-%m-%d}"]  # fmt: skip
    args += ["--local"] if not path.day_workers else ["--parallel", str(path.parallel)]
    specs = [
        (f"{path.key}-day-{i + 1}", ("--work-queue", "default", "--limit", str(path.limit)))
        for i in range(path.day_workers)
    ]
    with workers(env, folder, specs) as days:
        time.sleep(2)  # the workers' first polls, before the clock
        watched = [pids["coordinator"], *(w.pid for w in days)] if days else []
        before = [_cpu(pid) for pid in watched]
        command_before, requests_before = _children_cpu(), len(judge.requests)
        judge.max_in_flight, began = 0, datetime.now(UTC)
        _, timing = timed(
            lambda: vigil_command(args, env, folder / f"{path.key}-backfill.log"),
            pids["postgres"] or None,
            pids["prefect"],
        )
        ended, command_cpu = datetime.now(UTC), _children_cpu() - command_before
        workers_cpu = sum(_cpu(pid) - was for pid, was in zip(watched, before, strict=True))
    return Outcome(
        timing, command_cpu, workers_cpu, len(judge.requests) - requests_before,
        judge.max_in_flight, began, ended,
    )  # fmt: skip


def _log(path: Variant, o: Outcome) -> None:
    t, traces = o.timing, DAYS * PER_DAY
    rest = t.others_cpu - o.command_cpu - o.workers_cpu
    ours = t.cpu + o.command_cpu + o.workers_cpu + t.server_cpu + t.db_cpu
    say(
        f"  {path.key} ({path.label}): wall {t.wall:.1f} s, {traces / t.wall:.1f} traces/s; "
        f"{o.requests:,} judge requests, at most {o.max_in_flight} in flight; cpu: bench + "
        f"fake judge {t.cpu:.1f} s, `vigil backfill` {o.command_cpu:.1f} s, workers and "
        f"their flow runs {o.workers_cpu:.1f} s, Prefect server {t.server_cpu:.1f} s, "
        f"PostgreSQL {t.db_cpu:.1f} s, rest of the machine {rest:.1f} s "
        f"({rest / t.wall:.2f} cores); {1000 * ours / max(o.requests, 1):.0f} ms of cpu "
        "per judge request, rest of the machine left out"
    )


def run() -> list[Row]:
    outcomes: dict[str, Outcome] = {}
    with contextlib.ExitStack() as ctx:
        admin_url, db_pid = ctx.enter_context(postgres())
        url = ctx.enter_context(scratch_database(admin_url, DATABASE))
        prefect_db = ctx.enter_context(scratch_database(admin_url, PREFECT_DATABASE))
        home = Path(ctx.enter_context(tempfile.TemporaryDirectory(prefix="vigil-bench-pool-")))
        folder = home / "logs"
        folder.mkdir()
        settings = Settings(home=home, host="127.0.0.1", prefect_port=free_port(), database_url=url)
        with connect(url, autocommit=True) as conn:
            migrate(conn)
        traces = load_traces(url)
        judge = ctx.enter_context(FakeOpenAIServer(latency_s=LATENCY_S))
        env = {
            **os.environ, **stack.prefect_env(settings), "VIGIL_HOME": str(home),
            "VIGIL_DATABASE_URL": url, "VIGIL_HOST": settings.host,
            "VIGIL_PREFECT_PORT": str(settings.prefect_port),
            "VIGIL_JUDGE_PROVIDER": "openai_compatible", "VIGIL_JUDGE_MODEL": "fake-judge",
            "VIGIL_JUDGE_BASE_URL": judge.base_url,
            "VIGIL_JUDGE_CONCURRENCY": str(PER_PROCESS),
        }  # fmt: skip
        query_s = env.get("PREFECT_WORKER_QUERY_SECONDS", "10 (Prefect's default)")
        say(
            f"bench.backfill_pool: {DAYS} days x {PER_DAY} traces, {EVALUATOR} against a local "
            f"fake judge answering after {LATENCY_S} s; {PER_PROCESS} judge requests in flight "
            f"per process, a global limit of {GLOBAL_LIMIT}; workers poll every {query_s} s"
        )
        server_pid = ctx.enter_context(prefect_server(settings, asyncpg_url(prefect_db)))
        deploy_env = {**env, "VIGIL_JUDGE_CONCURRENCY": str(GLOBAL_LIMIT)}
        vigil_command(["deploy"], deploy_env, folder / "deploy.log", timeout=600)
        limit = f"vigil-judge-openai_compatible-fake-judge: {GLOBAL_LIMIT} in flight"
        if limit not in (folder / "deploy.log").read_text():
            raise RuntimeError(f"`vigil deploy` did not set limit {limit}; see {folder}")
        coordinator = ctx.enter_context(
            workers(env, folder, [("coordinator", ("--work-queue", "backfill"))])
        )[0]
        pids = {"postgres": db_pid or 0, "prefect": server_pid, "coordinator": coordinator.pid}
        for path in PATHS:
            reset(url)
            outcomes[path.key] = run_path(path, env, folder, judge, pids)
            _log(path, outcomes[path.key])
            log_days(url, outcomes[path.key])
            check(url, path)
    return rows(traces, outcomes)


def rows(traces: int, outcomes: dict[str, Outcome]) -> list[Row]:
    def case(path: Variant) -> str:
        return (
            f"{DAYS} d x {PER_DAY} traces, {EVALUATOR}, fake judge (local, fixed "
            f"{LATENCY_S:g} s), {PER_PROCESS} in flight/process; {path.label}"
        )

    reference, ref_wall = f"A ({LOCAL.label})", outcomes[LOCAL.key].timing.wall
    ref_in_flight = outcomes[LOCAL.key].max_in_flight
    out: list[Row] = []
    for path in PATHS[1:]:
        wall = outcomes[path.key].timing.wall
        out += [
            Row("backfill_pool", case(path), "most judge requests in flight",
                outcomes[path.key].max_in_flight, reference, ref_in_flight),
            Row("backfill_pool", case(path), "wall s", wall, reference, ref_wall,
                higher_is_better=False),
            Row("backfill_pool", case(path), "traces/s", traces / wall, reference,
                traces / ref_wall),
        ]  # fmt: skip
    one, two = outcomes["B"].timing.wall, outcomes["C"].timing.wall
    out.append(
        Row("backfill_pool", case(PATHS[2]), "traces/s", traces / two,
            f"B ({PATHS[1].label})", traces / one)
    )  # fmt: skip
    return out


if __name__ == "__main__":
    from bench import table

    print(table(run()))
