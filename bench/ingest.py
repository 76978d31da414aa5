"""OTLP ingestion: spans STORED per second, and spans lost, with 1, 4 and 16 senders.

Vigil's receiver (``vigil serve-otlp``, a separate process, on an embedded PostgreSQL) and
Arize Phoenix (its own virtualenv, default SQLite storage) get the same payloads from the
real OpenTelemetry SDK. Throughput runs from the first send to the moment the last row is
stored, counted in each server's database, not from the exporters' acknowledgements.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import Row
from bench._db import scratch_database
from bench._ports import free_port
from bench.otlp_load import send_traces
from bench.phoenix_peer import Peer, phoenix_server
from vigil.db import connect
from vigil.store.keys import create_key

SENDERS = (1, 4, 16)
TRACES_PER_RUN = int(os.environ.get("VIGIL_BENCH_INGEST_TRACES", "2000"))
SETTLE_TIMEOUT_S = 600.0


@dataclass
class Result:
    sent: int
    stored: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.stored / self.seconds


@contextmanager
def vigil_receiver() -> Iterator[Peer]:
    with scratch_database("vigil_ingest_bench") as url:
        with connect(url, autocommit=True) as conn:
            _, key = create_key(conn, "bench", "bench")
        port = free_port()
        home = tempfile.mkdtemp(prefix="vigil-bench-home-")
        env = {**os.environ, "VIGIL_DATABASE_URL": url, "VIGIL_OTLP_PORT": str(port),
               "VIGIL_HOME": home}  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve-otlp"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            _wait_http(f"http://127.0.0.1:{port}/health")

            yield vigil_peer("Vigil (PostgreSQL)", url, port, key, proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)


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


def run_load(target: Peer, senders: int, traces: int) -> Result:
    """Send ``traces`` traces from ``senders`` processes; wait until storage settles."""
    before = target.count_spans()
    per = traces // senders
    with ProcessPoolExecutor(senders) as pool:
        futures = [pool.submit(send_traces, target.traces_url, target.headers, per, seed)
                   for seed in range(senders)]  # fmt: skip
        reports = [f.result() for f in futures]
    sent = sum(r["spans"] for r in reports)
    first = min(r["started"] for r in reports)
    stored, last_change, last = before, time.time(), before
    while time.time() - last_change < 10 and time.time() - first < SETTLE_TIMEOUT_S:
        stored = target.count_spans()
        if stored != last:
            last, last_change = stored, time.time()
        if stored - before >= sent:
            break
        time.sleep(0.05)
    done = last_change if stored - before < sent else time.time()
    return Result(sent, stored - before, done - first)


def measure(target: Peer, traces: int) -> dict[int, Result]:
    return {n: run_load(target, n, traces) for n in SENDERS}


def run() -> list[Row]:
    with vigil_receiver() as target:
        ours = measure(target, TRACES_PER_RUN)
    theirs: dict[int, Result] | None = None
    peer_name = "Arize Phoenix"
    try:
        with tempfile.TemporaryDirectory() as tmp, phoenix_server(Path(tmp)) as peer:
            peer_name = peer.name
            theirs = measure(peer, TRACES_PER_RUN)
    except Exception as err:  # the peer could not run here: say so in the table
        print(f"peer unavailable: {err}", file=sys.stderr)
    rows = []
    for n in SENDERS:
        mine, other = ours[n], (theirs or {}).get(n)
        rows.append(Row("ingest", f"{n} sender(s), spans stored/s", "spans/s", mine.rate,
                        peer_name, other.rate if other else float("nan")))  # fmt: skip
        rows.append(Row("ingest", f"{n} sender(s), spans lost of {mine.sent}", "spans",
                        mine.sent - mine.stored, peer_name,
                        (other.sent - other.stored) if other else float("nan"),
                        higher_is_better=False))  # fmt: skip
    return rows


if __name__ == "__main__":
    from bench import table

    print(table(run()))
