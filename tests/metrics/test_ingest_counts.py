"""The receiver counts every request in PostgreSQL: spans received, stored, duplicate and
rejected, and refusals by reason; the exporter shows the totals."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn

from tests.conftest import free_port
from tests.metrics.conftest import samples, value
from tests.otlp.payloads import new_ids, request, span_spec
from vigil.db import connect
from vigil.metrics import Exporter
from vigil.otlp.server import create_app
from vigil.settings import Settings
from vigil.store import metrics as store
from vigil.store.keys import create_key

PB = {"Content-Type": "application/x-protobuf"}
UNKNOWN = store.UNKNOWN_APP


@pytest.fixture
def receiver(clean_counts: str) -> Iterator[tuple[str, str, Callable[[], None]]]:
    """A real receiver (2 KiB body limit) in a thread: its URL, a key of app ``rag-app``, and
    a stop that returns once uvicorn has finished every request and the lifespan."""
    settings = Settings(database_url=clean_counts, otlp_key_cache_s=0.0,  # type: ignore[call-arg]
                        otlp_max_body_mb=2 / 1024)  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, clean_counts), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join()

    with connect(clean_counts, autocommit=True) as conn:
        _, key = create_key(conn, "rag-app", "test")
    yield f"http://127.0.0.1:{port}/v1/traces", key, stop
    stop()


def post(url: str, body: bytes, key: str | None) -> int:
    headers = {**PB, **({"Authorization": f"Bearer {key}"} if key else {})}
    return httpx.post(url, content=body, headers=headers, timeout=30).status_code


def test_batches_and_refusals_are_counted(receiver, clean_counts: str) -> None:  # type: ignore[no-untyped-def]
    url, key, stop = receiver
    trace, root, child, _ = new_ids()
    good = request(
        [span_spec(trace, root, name="rag"), span_spec(trace, child, parent=root, name="step")]
    ).SerializeToString()
    no_ids = request([span_spec(b"\0" * 16, b"\0" * 8, name="bad")]).SerializeToString()
    assert post(url, good, key) == 200
    assert post(url, good, key) == 200  # re-sent: two duplicates
    assert post(url, no_ids, key) == 200  # answered, its one span rejected
    assert post(url, good, None) == 401
    assert post(url, good, "vgl_nope_nope") == 401
    assert post(url, b"\x01" * 4096, key) == 413
    assert post(url, b"not a protobuf \xff\xff", key) == 400
    stop()  # every request and the final flush done

    exporter = Exporter(clean_counts, max_segment_values=2)
    exporter.refresh()
    found = samples(exporter)

    def spans(app: str, outcome: str, reason: str = "") -> float | None:
        return value(found, "vigil_ingest_spans_total", app=app, outcome=outcome, reason=reason)

    def requests(app: str, outcome: str, reason: str = "") -> float | None:
        return value(found, "vigil_ingest_requests_total", app=app, outcome=outcome,
                     reason=reason)  # fmt: skip

    assert (requests("rag-app", "received"), spans("rag-app", "received")) == (3, 5)
    assert spans("rag-app", "stored") == 2 and spans("rag-app", "duplicate") == 2
    assert spans("rag-app", "rejected", "invalid_span") == 1
    assert requests(UNKNOWN, "refused", "missing_key") == 1
    assert requests(UNKNOWN, "refused", "invalid_key") == 1
    assert requests(UNKNOWN, "refused", "too_large") == 1
    assert requests("rag-app", "refused", "decode_error") == 1
    with connect(clean_counts, autocommit=True) as conn:
        total = sum(c.requests for c in store.ingest_totals(conn))
    assert total == 7  # each request counted once
