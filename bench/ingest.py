"""OTLP ingestion: CPU per stored span, spans stored per second with 1, 4 and 16 connections,
and spans lost, for Vigil's receiver beside Arize Phoenix fed the same bodies.

The load (:mod:`bench.otlp_load`) is encoded before any timing: realistic RAG traces
recorded with the OpenTelemetry SDK, as the OTLP/HTTP protobuf bodies of 512 spans its
exporter sends, new traces for each number of connections. They are replayed over
keep-alive connections (:mod:`bench._replay`), so a sender costs almost nothing and the
receiver has the 2 cores to itself. Vigil runs as ``vigil serve-otlp`` (its default 2
workers) on an embedded PostgreSQL; Phoenix from its own virtualenv with its default SQLite
(:mod:`bench.phoenix_peer`). Both get every body of a run, in the same order.

Throughput runs from the first send to the moment the last span is stored, counted in each
server's database (Vigil answers once a batch is committed, Phoenix before it stores);
*lost* is sent minus stored. CPU is read from ``/proc`` (:mod:`bench._proc_cpu`) over the
three runs: the receiver's process tree, and for Vigil the PostgreSQL postmaster's tree (its
backends, background processes and reaped autovacuum workers), without the backend this
benchmark counts with. Phoenix stores in its own process, so its one figure is both.

``VIGIL_BENCH_INGEST_TRACES`` (default 10,000) traces of 3 spans a run; Phoenix stores
about 200 spans/s here, so its three runs take about 8 minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bench import Row
from bench._db import scratch_database
from bench._ports import free_port
from bench._proc_cpu import tree_cpu, wait_idle
from bench._replay import replay
from bench.otlp_load import Bodies, rag_bodies
from bench.phoenix_peer import Peer, phoenix_server
from vigil.db import connect
from vigil.store.keys import create_key

CONNECTIONS = (1, 4, 16)
TRACES_PER_RUN = int(os.environ.get("VIGIL_BENCH_INGEST_TRACES", "10000"))
WARM_UP_TRACES = 400  # sent first over 2 connections (both workers), not measured
SETTLE_QUIET_S = 10.0  # stop waiting once the count has not moved for this long
SETTLE_TIMEOUT_S = 900.0


@dataclass
class Result:
    sent: int
    stored: int
    seconds: float
    receiver_cpu: float = 0.0  # CPU seconds of the receiver's processes
    database_cpu: float = 0.0  # of its database server's (0 for an in-process database)

    @property
    def rate(self) -> float:
        return self.stored / self.seconds


# -- the peers --------------------------------------------------------------------------
@contextmanager
def vigil_receiver() -> Iterator[Peer]:
    """``vigil serve-otlp`` on a scratch database, its spans counted over one connection
    whose backend's CPU is left out of PostgreSQL's."""
    with scratch_database("vigil_ingest_bench") as url:
        with connect(url, autocommit=True) as conn:
            _, key = create_key(conn, "bench", "bench")
        port = free_port()
        home = tempfile.TemporaryDirectory(prefix="vigil-bench-home-")
        env = {**os.environ, "VIGIL_DATABASE_URL": url, "VIGIL_OTLP_PORT": str(port),
               "VIGIL_HOME": home.name}  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve-otlp"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            _wait_http(f"http://127.0.0.1:{port}/health")
            with connect(url, autocommit=True) as counter:
                row = counter.execute(
                    "SELECT pg_backend_pid() AS me, current_setting('data_directory') AS data"
                ).fetchone()
                assert row is not None
                me, postmaster = row["me"], _postmaster(Path(row["data"]))

                def count() -> int:
                    return int(counter.execute("SELECT count(*) AS n FROM spans").fetchone()["n"])  # type: ignore[index]

                def database_cpu() -> float:
                    return tree_cpu(postmaster, without=(me,))

                peer = vigil_peer("Vigil (PostgreSQL)", url, port, key, proc.pid)
                yield replace(peer, count_spans=count, database_cpu=database_cpu)
        finally:
            proc.terminate()
            proc.wait(30)
            home.cleanup()


def _postmaster(data_directory: Path) -> int:
    """The postmaster's pid, the first line of its ``postmaster.pid``."""
    return int((data_directory / "postmaster.pid").read_text().split()[0])


def vigil_peer(name: str, url: str, port: int, key: str, pid: int) -> Peer:
    """A Vigil receiver on ``port`` as a load target: its spans are counted in ``url``."""

    def count() -> int:
        with connect(url, autocommit=True) as c:
            return int(c.execute("SELECT count(*) AS n FROM spans").fetchone()["n"])  # type: ignore[index]

    return Peer(name, f"http://127.0.0.1:{port}/v1/traces", {"Authorization": f"Bearer {key}"},
                count, pid)  # fmt: skip


def _wait_http(url: str, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


# -- one load ---------------------------------------------------------------------------
def run_load(target: Peer, connections: int, traces: int) -> Result:
    """``traces`` new RAG traces, encoded first, sent over ``connections`` connections."""
    return replay_load(target, rag_bodies(traces, seed=connections), connections)


def replay_load(target: Peer, load: Bodies, connections: int) -> Result:
    """Send ``load`` over ``connections`` keep-alive connections; wait until storage settles.

    CPU is read before the first send and once the count has settled.
    """
    before = target.count_spans()
    receiver, database = tree_cpu(target.pid), target.database_cpu()
    sent = replay(target.traces_url, target.headers, load.bodies, connections)
    if sent.failures:
        print(f"  {target.name}: {len(sent.failures)} bodies refused, first:"
              f" {sent.failures[0]}", file=sys.stderr)  # fmt: skip
    stored, done = _settle(target, before + load.spans, sent.finished)
    result = Result(load.spans, stored - before, done - sent.started,
                    tree_cpu(target.pid) - receiver, target.database_cpu() - database)  # fmt: skip
    print(f"  {target.name}, {connections} connection(s): {result.stored:,}/{result.sent:,}"
          f" stored in {result.seconds:.2f} s ({result.rate:,.0f}/s), {sent.retries} retries;"
          f" CPU receiver {result.receiver_cpu:.2f} s, database {result.database_cpu:.2f} s",
          file=sys.stderr)  # fmt: skip
    return result


def _settle(target: Peer, expected: int, answered: float) -> tuple[int, float]:
    """The count once it reaches ``expected`` or stops moving, and when that happened: the
    last answer's time if everything was stored by then (Vigil answers after committing)."""
    stored = target.count_spans()
    if stored >= expected:
        return stored, answered
    last, last_change = stored, time.time()
    while time.time() - last_change < SETTLE_QUIET_S and time.time() - answered < SETTLE_TIMEOUT_S:
        time.sleep(0.05)
        stored = target.count_spans()
        if stored >= expected:
            return stored, time.time()
        if stored != last:
            last, last_change = stored, time.time()
    return stored, last_change


def measure(target: Peer, warm_up: Bodies, loads: dict[int, Bodies]) -> dict[int, Result]:
    """A run of each load, after ``warm_up`` (not counted) once every worker has started."""
    wait_idle(target.pid)
    replay_load(target, warm_up, 2)
    return {n: replay_load(target, load, n) for n, load in loads.items()}


# -- the table --------------------------------------------------------------------------
def run() -> list[Row]:
    started = time.process_time()
    loads = {n: rag_bodies(TRACES_PER_RUN, seed=n) for n in CONNECTIONS}
    warm_up = rag_bodies(WARM_UP_TRACES, seed=99)
    print(f"  encoded {len(CONNECTIONS)} x {TRACES_PER_RUN * 3:,} spans in"
          f" {time.process_time() - started:.1f} CPU s", file=sys.stderr)  # fmt: skip
    sending = time.process_time()
    with vigil_receiver() as target:
        ours = measure(target, warm_up, loads)
    spans = sum(r.sent for r in ours.values())
    print(f"  senders (this process): {time.process_time() - sending:.2f} CPU s for"
          f" {spans:,} spans and a warm-up", file=sys.stderr)  # fmt: skip
    theirs: dict[int, Result] = {}
    peer_name = "Arize Phoenix"
    try:
        with tempfile.TemporaryDirectory() as tmp, phoenix_server(Path(tmp)) as peer:
            peer_name = peer.name
            theirs = measure(peer, warm_up, loads)
    except Exception as err:  # the peer could not run here: say so in the table
        print(f"peer unavailable: {err}", file=sys.stderr)
    return rows(ours, theirs, peer_name)


def rows(ours: dict[int, Result], theirs: dict[int, Result], peer_name: str) -> list[Row]:
    nan = float("nan")
    out = []
    for n in CONNECTIONS:
        mine, other = ours[n], theirs.get(n)
        connections = f"{n} connection{'s' if n > 1 else ''}"
        out.append(Row("ingest", f"{connections}, spans stored/s", "spans/s", mine.rate,
                       peer_name, other.rate if other else nan))  # fmt: skip
        out.append(Row("ingest", f"{connections}, lost of {mine.sent:,}", "spans",
                       mine.sent - mine.stored, peer_name,
                       (other.sent - other.stored) if other else nan,
                       higher_is_better=False))  # fmt: skip
    receiver, database = _cpu_per_1000(ours)
    peer = sum(_cpu_per_1000(theirs)) if theirs else nan  # Phoenix: one process does both
    case = "CPU s/1,000 spans"
    cpu = [("receiver", receiver, nan), ("PostgreSQL", database, nan),
           ("both", receiver + database, peer)]  # fmt: skip
    return out + [Row("ingest", f"{case}, {part}", "CPU s", value, peer_name, reference,
                      higher_is_better=False) for part, value, reference in cpu]  # fmt: skip


def _cpu_per_1000(results: dict[int, Result]) -> tuple[float, float]:
    """CPU seconds per 1,000 stored spans over all runs: the receiver's, the database's."""
    stored = sum(r.stored for r in results.values()) or 1
    receiver = sum(r.receiver_cpu for r in results.values())
    database = sum(r.database_cpu for r in results.values())
    return receiver * 1000 / stored, database * 1000 / stored


if __name__ == "__main__":
    from bench import table

    print(table(run()))
