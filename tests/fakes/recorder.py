"""A local HTTP receiver that records every request, standing in for PagerDuty, Slack and
webhooks in tests. Each path answers with a scripted list of status codes (then 202), so a
test can make a destination fail, recover or refuse. Runs on 127.0.0.1 in a thread; the
fixture that starts it stops it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class Recorder:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these statuses, in order."""
        with self.lock:
            self.script.setdefault(path, []).extend(statuses)

    def to(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def _next(self, path: str) -> int:
        with self.lock:
            queue = self.script.get(path)
            return queue.pop(0) if queue else 202


@contextmanager
def recorder() -> Iterator[Recorder]:
    rec: Recorder

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            raw = self.rfile.read(length)
            status = rec._next(self.path)
            with rec.lock:
                rec.requests.append(Recorded(self.path, dict(self.headers),
                                             json.loads(raw or b"null"), status))  # fmt: skip
            body = b'{"status":"success"}' if status < 300 else b'{"status":"error"}'
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec = Recorder(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
