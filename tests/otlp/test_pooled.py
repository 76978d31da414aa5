"""The receiver behind PgBouncer in transaction mode (VIGIL_DATABASE_POOLER=transaction, two
server connections): new traces' spans copied in, known traces' spans inserted, a re-sent
batch, each batch in one transaction and nothing kept in the session."""

from __future__ import annotations

import httpx
import pytest

from tests.db.test_pgbouncer import pooled_url  # noqa: F401  (the fixture)
from tests.otlp.conftest import start_receiver
from tests.otlp.payloads import request, span_spec
from vigil.db.types import Conn
from vigil.store.keys import create_key

BATCHES = 8  # past the prepare threshold of 5


def body(n: int) -> bytes:
    """Trace n whole, and the root of trace n - 1 (whose children came in the batch before)."""
    this, previous = (n + 1).to_bytes(16, "big"), n.to_bytes(16, "big")
    return request([
        span_spec(this, (10 * n + 2).to_bytes(8, "big"), (10 * n + 1).to_bytes(8, "big"),
                  "retrieve", start_ms=1, attrs={"openinference.span.kind": "RETRIEVER",
                  "retrieval.documents.0.document.content": f"chunk {n}"}),
        *([span_spec(previous, (10 * n - 9).to_bytes(8, "big"), name="rag", end_ms=20)]
          if n else []),
    ]).SerializeToString()  # fmt: skip


def test_the_receiver_works_through_pgbouncer_in_transaction_mode(
    pooled_url: str,  # noqa: F811
    conn: Conn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_DATABASE_POOLER", "transaction")
    server, url, _ = start_receiver(pooled_url)
    try:
        _, key = create_key(conn, "rag-app", "test")
        headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"}
        for n in [*range(BATCHES), BATCHES - 1]:  # the last batch twice
            sent = httpx.post(f"{url}/v1/traces", content=body(n), headers=headers, timeout=30)
            assert sent.status_code == 200, sent.content
    finally:
        server.should_exit = True
    counts = conn.execute("SELECT (SELECT count(*) FROM spans) AS s, (SELECT count(*) FROM"
                          " retrievals) AS r, (SELECT count(*) FROM traces WHERE complete) AS c"
                          ).fetchone()  # fmt: skip
    assert counts == {"s": 2 * BATCHES - 1, "r": BATCHES, "c": BATCHES - 1}
