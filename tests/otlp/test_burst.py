"""A burst of 64 batches of 8 MiB at once, on a real `vigil serve-otlp` process.

The receiver runs in its own process so that its peak RSS (the kernel's VmHWM) is its own,
not the test's 512 MiB of bodies. Storage is held locked while the burst arrives, so the
in-flight slots are full whatever the machine's speed: the excess must be refused with 503 and
Retry-After, the receiver must hold no more than its in-flight bodies, and once the senders
have retried as OTLP exporters do, every span must be stored exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from google.rpc import status_pb2

from tests.otlp.payloads import request, span_spec
from tests.otlp.serve import serve_otlp
from vigil.db import connect
from vigil.db.types import Conn
from vigil.store.keys import create_key

SENDERS = 64
SPANS_PER_BODY = 4
MIB = 1024 * 1024
BODY = 8 * MIB
WRITERS = 1  # VIGIL_OTLP_MAX_CONCURRENCY
INFLIGHT = 2  # VIGIL_OTLP_MAX_INFLIGHT
# Per request in flight: the body as read and once joined, the parsed message and the
# decoded text (about 4 bodies at the decoding peak), with room to 6; plus a fixed margin for
# the connections waiting with their first 64 KiB read, allocator slack and threads. A
# receiver that read every body at once would need at least SENDERS * BODY = 512 MiB.
RSS_BOUND = INFLIGHT * 6 * BODY + 96 * MIB
MAX_TRIES = 30
PROC = Path("/proc")

pytestmark = pytest.mark.skipif(not PROC.joinpath("self/status").exists(), reason="needs /proc")


@dataclass
class Receiver:
    url: str
    pid: int
    key: str

    def post(self, body: bytes) -> httpx.Response:
        headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {self.key}"}
        return httpx.post(f"{self.url}/v1/traces", content=body, headers=headers, timeout=120)


def memory_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (the peak since the process started) of a process, in KiB."""
    for line in PROC.joinpath(str(pid), "status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


@pytest.fixture
def receiver(db_url: str, vigil_home: Path) -> Iterator[Receiver]:
    """`vigil serve-otlp` with one worker, stopped (and reaped) whatever the test does."""
    limits = {"VIGIL_OTLP_WORKERS": "1", "VIGIL_OTLP_MAX_CONCURRENCY": str(WRITERS),
              "VIGIL_OTLP_MAX_INFLIGHT": str(INFLIGHT), "VIGIL_OTLP_MAX_BODY_MB": "16",
              "VIGIL_OTLP_QUEUE_TIMEOUT_S": "2"}  # fmt: skip
    with serve_otlp(db_url, vigil_home, **limits) as (pid, url):
        with connect(db_url, autocommit=True) as conn:
            _, key = create_key(conn, "rag-app", "test")
        yield Receiver(url, pid, key)


def body_of(n: int, size: int = BODY) -> tuple[bytes, set[tuple[str, str]]]:
    """Trace ``n``: SPANS_PER_BODY spans whose attributes make the body about ``size`` bytes;
    and the (trace, span) ids it holds."""
    trace_id = (n + 1).to_bytes(16, "big")
    span_ids = [(n * 100 + i + 1).to_bytes(8, "big") for i in range(SPANS_PER_BODY)]
    filler = "x" * max(size // SPANS_PER_BODY - 200, 0)
    specs = [span_spec(trace_id, sid, parent=span_ids[0] if i else b"", name=f"step-{i}",
                       attrs={"input.value": f"question {n}", "filler": filler})
             for i, sid in enumerate(span_ids)]  # fmt: skip
    return request(specs).SerializeToString(), {(trace_id.hex(), s.hex()) for s in span_ids}


def retry_until_stored(receiver: Receiver, body: bytes, refused: httpx.Response) -> list[int]:
    """What an OTLP exporter does with a 503: wait Retry-After, send again. The statuses seen."""
    statuses: list[int] = []
    response = refused
    while response.status_code == 503 and len(statuses) < MAX_TRIES:
        time.sleep(float(response.headers["Retry-After"]))
        response = receiver.post(body)
        statuses.append(response.status_code)
    return statuses


def test_a_burst_of_big_batches_is_bounded_refused_in_excess_and_stored_once(
    conn: Conn, db_url: str, receiver: Receiver
) -> None:
    warm, expected = body_of(SENDERS, size=0)  # pool, key cache and write path are warm
    assert receiver.post(warm).status_code == 200
    rss_before = memory_kib(receiver.pid, "VmRSS") * 1024
    bodies = [body_of(n) for n in range(SENDERS)]
    assert all(BODY - MIB < len(body) <= BODY for body, _ in bodies)

    locker = connect(db_url)
    locker.execute("LOCK TABLE spans IN ACCESS EXCLUSIVE MODE")  # no writer can finish
    first: dict[int, httpx.Response] = {}
    with ThreadPoolExecutor(SENDERS) as pool:
        try:
            sent = {pool.submit(receiver.post, body): i for i, (body, _) in enumerate(bodies)}
            for future in as_completed(sent):
                first[sent[future]] = future.result()
                if len(first) == SENDERS - WRITERS:  # all answered but the stuck writers
                    locker.rollback()  # storage moves again: they commit
        finally:
            locker.close()

    refused = {i: r for i, r in first.items() if r.status_code == 503}
    assert len(refused) == SENDERS - WRITERS
    assert sum(r.status_code == 200 for r in first.values()) == WRITERS
    assert all(r.headers.get("Retry-After") == "2" for r in refused.values())
    messages = [status_pb2.Status.FromString(r.content).message for r in refused.values()]
    unread = sum("in-flight limit" in m for m in messages)
    assert unread >= 1  # refused before its body was read; the rest found no writer

    with ThreadPoolExecutor(SENDERS) as pool:
        retries = {i: pool.submit(retry_until_stored, receiver, bodies[i][0], r)
                   for i, r in refused.items()}  # fmt: skip
        retried = {i: future.result() for i, future in retries.items()}
    assert all(statuses[-1] == 200 for statuses in retried.values())

    growth = memory_kib(receiver.pid, "VmHWM") * 1024 - rss_before
    rows = conn.execute("SELECT trace_id, span_id FROM spans").fetchall()
    stored = [(r["trace_id"], r["span_id"]) for r in rows]
    again = sum(statuses.count(503) for statuses in retried.values())
    print(f"\npeak RSS growth {growth / MIB:.0f} MiB (bound {RSS_BOUND / MIB:.0f} MiB); "
          f"503s: {len(refused)} in the burst ({unread} at the in-flight limit), "
          f"{again} on retry; {len(stored)} spans stored")  # fmt: skip
    assert growth <= RSS_BOUND
    expected = expected.union(*(ids for _, ids in bodies))
    assert len(stored) == len(expected) == (SENDERS + 1) * SPANS_PER_BODY
    assert set(stored) == expected  # each once: (trace_id, span_id) is the primary key
