"""Replaying pre-encoded OTLP/HTTP bodies over keep-alive connections: a sender that costs
almost nothing, so that a benchmark on a small machine measures the receiver.

Each connection is a thread with one ``http.client.HTTPConnection`` kept open for the whole
run; it takes the next body from a shared queue as soon as its previous one is answered.
A 503 (the receiver asks for a retry) is re-sent after a pause, as an OTLP exporter would.
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

RETRY_PAUSE_S = 0.5
MAX_ATTEMPTS = 20
TIMEOUT_S = 300.0


@dataclass
class Replayed:
    """What the senders saw: when they started and finished, and what was not accepted."""

    started: float  # time.time() of the first send
    finished: float = 0.0  # of the last answer
    retries: int = 0  # 503s and dropped connections, re-sent
    failures: list[str] = field(default_factory=list)  # bodies never answered 200
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def replay(url: str, headers: dict[str, str], bodies: list[bytes], connections: int) -> Replayed:
    """POST every body to ``url`` over ``connections`` keep-alive connections at once."""
    target = urlsplit(url)
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    sent = {"Content-Type": "application/x-protobuf", **headers}
    out = Replayed(time.time())
    threads = [
        threading.Thread(target=_sender, args=(target.hostname, target.port, target.path,
                                               sent, work, out), daemon=True)
        for _ in range(connections)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.finished = time.time()
    return out


def _sender(host: str | None, port: int | None, path: str, headers: dict[str, str],
            work: queue.SimpleQueue[bytes], out: Replayed) -> None:  # fmt: skip
    conn = http.client.HTTPConnection(host or "127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            failure = _post(conn, path, body, headers, out)
            if failure:
                with out.lock:
                    out.failures.append(failure)
    finally:
        conn.close()


def _post(conn: http.client.HTTPConnection, path: str, body: bytes,
          headers: dict[str, str], out: Replayed) -> str | None:  # fmt: skip
    """Send one body until it is answered other than 503; None when accepted."""
    for _ in range(MAX_ATTEMPTS):
        try:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            answer = response.read()
        except (http.client.HTTPException, ConnectionError):
            conn.close()  # the next request reconnects
            status, answer = 0, b"connection dropped"
        else:
            status = response.status
        if status == 200:
            return None
        if status not in (0, 503):
            return f"HTTP {status}: {answer[:200]!r}"
        with out.lock:
            out.retries += 1
        time.sleep(RETRY_PAUSE_S)
    return f"not accepted after {MAX_ATTEMPTS} attempts"
