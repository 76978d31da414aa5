"""Two `vigil serve-otlp` processes (two hosts behind a load balancer) receive the spans of
the same traces at the same time: each trace is assembled once, from all of its spans."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.otlp.payloads import request, span_spec
from tests.otlp.serve import serve_otlp
from vigil.db import connect
from vigil.db.types import Conn
from vigil.ingest.spans import reassembled
from vigil.store.keys import create_key

TRACES = 40
BATCH = 8  # traces whose spans go in one request


@pytest.fixture
def receivers(db_url: str, vigil_home: Path) -> Iterator[list[str]]:
    """Two receivers on one database, as two hosts behind a load balancer."""
    with ExitStack() as stack:
        started = [stack.enter_context(serve_otlp(db_url, vigil_home / f"host-{i}",
                                                  VIGIL_OTLP_WORKERS="1"))
                   for i in range(2)]  # fmt: skip
        yield [url for _, url in started]


def trace_spans(n: int) -> list[dict[str, object]]:
    """A RAG request: the root chain, a retriever, an LLM call and three tool steps."""
    trace, root = (n + 1).to_bytes(16, "big"), (n * 10 + 1).to_bytes(8, "big")
    child = [(n * 10 + i).to_bytes(8, "big") for i in range(2, 7)]
    kind = "openinference.span.kind"
    return [
        span_spec(trace, root, name="rag", start_ms=0, end_ms=900 + n, attrs={
            kind: "CHAIN", "input.value": f"question {n}", "output.value": f"answer {n}"}),
        span_spec(trace, child[0], root, "retrieve", start_ms=10, end_ms=60, attrs={
            kind: "RETRIEVER", "retrieval.documents.0.document.id": f"doc-{n}",
            "retrieval.documents.0.document.content": f"context {n}"}),
        span_spec(trace, child[1], root, "llm", start_ms=100, end_ms=800, attrs={
            kind: "LLM", "llm.model_name": "gpt-x", "llm.token_count.prompt": 100 + n,
            "llm.token_count.completion": 20 + n}),
        *[span_spec(trace, sid, root, f"tool-{i}", start_ms=60 + i, end_ms=70 + i,
                    attrs={kind: "TOOL"}) for i, sid in enumerate(child[2:])],
    ]  # fmt: skip


def test_two_receivers_assemble_each_trace_once_from_all_its_spans(
    receivers: list[str], conn: Conn
) -> None:
    _, key = create_key(conn, "rag-app", "test")
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"}
    jobs = []  # (receiver, body): every trace's spans split between the two receivers
    for first in range(0, TRACES, BATCH):
        spans = [trace_spans(n) for n in range(first, first + BATCH)]
        for side in (0, 1):
            mine = [s for per_trace in spans for i, s in enumerate(per_trace) if i % 2 == side]
            jobs.append((receivers[side], request(mine).SerializeToString()))

    def send(job: tuple[str, bytes]) -> int:
        return httpx.post(f"{job[0]}/v1/traces", content=job[1], headers=headers,
                          timeout=60).status_code  # fmt: skip

    with ThreadPoolExecutor(len(jobs)) as pool:  # all at once, both receivers
        assert set(pool.map(send, jobs)) == {200}

    with connect(conn.info.dsn, autocommit=True) as fresh:
        rows = fresh.execute("SELECT id, input, output, model, tokens_in, tokens_out,"
                             " latency_ms FROM traces ORDER BY id").fetchall()  # fmt: skip
        stored = fresh.execute("SELECT count(*) AS n, count(DISTINCT (trace_id, span_id)) AS d"
                               " FROM spans").fetchone()  # fmt: skip
        again = {t.id: t for t in reassembled(fresh, [r["id"] for r in rows])}
    assert len(rows) == TRACES
    assert stored is not None and stored["n"] == stored["d"] == TRACES * 6  # each span once
    for row in rows:
        whole = again[row["id"]]
        assert (row["input"], row["output"], row["model"], row["tokens_in"],
                row["tokens_out"], row["latency_ms"]) == (
            whole.input, whole.output, whole.model, whole.tokens_in, whole.tokens_out,
            whole.latency_ms)  # fmt: skip
        n = int(row["input"].split()[-1])
        assert (row["output"], row["model"], row["tokens_in"], row["latency_ms"]) == (
            f"answer {n}", "gpt-x", 100 + n, 900 + n)  # fmt: skip
        assert [c.content for c in whole.retrievals] == [f"context {n}"]
