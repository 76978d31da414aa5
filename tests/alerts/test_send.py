"""Sending with retries: 5xx and 429 are retried with doubling waits, other 4xx are not,
and a refused connection is an attempt like any other."""

from __future__ import annotations

import httpx

from tests.fakes.recorder import Recorder
from vigil.alerts.send import Attempt, send


def _send(rec_url: str, path: str, waits: list[float], attempts: list[Attempt]) -> Attempt:
    with httpx.Client(timeout=5) as client:
        return send(client, f"{rec_url}{path}", {"a": 1}, {}, max_attempts=4, backoff_s=0.5,
                    on_attempt=attempts.append, sleep=waits.append)  # fmt: skip


def test_a_500_is_retried_with_backoff_until_it_succeeds(rec: Recorder) -> None:
    rec.on("/x", 500, 503)
    waits: list[float] = []
    attempts: list[Attempt] = []
    last = _send(rec.url, "/x", waits, attempts)
    assert last.ok and last.number == 3
    assert [a.status_code for a in attempts] == [500, 503, 202]
    assert waits == [0.5, 1.0]
    assert [r.body for r in rec.to("/x")] == [{"a": 1}] * 3


def test_a_400_is_final_at_once(rec: Recorder) -> None:
    rec.on("/x", 400)
    attempts: list[Attempt] = []
    last = _send(rec.url, "/x", [], attempts)
    assert not last.ok and last.number == 1 and last.status_code == 400
    assert last.error is not None and last.error.startswith("HTTP 400")


def test_a_429_is_retried_and_gives_up_after_max_attempts(rec: Recorder) -> None:
    rec.on("/x", 429, 429, 429, 429)
    waits: list[float] = []
    last = _send(rec.url, "/x", waits, [])
    assert not last.ok and last.number == 4 and len(rec.to("/x")) == 4
    assert waits == [0.5, 1.0, 2.0]


def test_a_refused_connection_is_retried_and_reported() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    attempts: list[Attempt] = []
    last = _send(f"http://127.0.0.1:{port}", "/x", [], attempts)
    assert not last.ok and last.status_code is None and len(attempts) == 4
    assert last.error is not None and "ConnectError" in last.error
