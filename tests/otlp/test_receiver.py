"""The receiver's contract: authentication, bad input, idempotence, assembly, back-pressure."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.otlp.conftest import RunningReceiver
from tests.otlp.payloads import new_ids, request, span_spec
from vigil.db import connect
from vigil.store.keys import create_key, revoke_key

PB = {"Content-Type": "application/x-protobuf"}


def post(receiver: RunningReceiver, body: bytes, key: str | None = "default",
         headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
    h = {**PB, **(headers or {})}
    if key is not None:
        h["Authorization"] = f"Bearer {receiver.key if key == 'default' else key}"
    return httpx.post(receiver.traces_url, content=body, headers=h, timeout=30)


def counts(conn) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    row = conn.execute(
        "SELECT (SELECT count(*) FROM traces) AS t, (SELECT count(*) FROM spans) AS s,"
        " (SELECT count(*) FROM retrievals) AS r"
    ).fetchone()
    return row["t"], row["s"], row["r"]


def rag_body(trace_id: bytes, root: bytes, child: bytes, **kw: object) -> bytes:
    return request([
        span_spec(trace_id, root, name="rag", attrs={
            "openinference.span.kind": "CHAIN", "input.value": "q?", "output.value": "a."}),
        span_spec(trace_id, child, parent=root, name="retrieve", attrs={
            "openinference.span.kind": "RETRIEVER",
            "retrieval.documents.0.document.id": "d1",
            "retrieval.documents.0.document.content": "text", **kw}),
    ]).SerializeToString()  # fmt: skip


# -- authentication ---------------------------------------------------------------------
def test_requests_without_a_valid_key_get_401_and_store_nothing(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    body = rag_body(*new_ids()[:3])
    missing = post(receiver, body, key=None)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert "vigil keys create" in status_pb2.Status.FromString(missing.content).message
    assert post(receiver, body, key="vgl_nope_nope").status_code == 401
    assert counts(conn) == (0, 0, 0)


def test_a_revoked_key_is_refused(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    record, key = create_key(conn, "other-app", "test")
    assert post(receiver, rag_body(*new_ids()[:3]), key=key).status_code == 200
    revoke_key(conn, record.prefix, "test")
    assert post(receiver, rag_body(*new_ids()[:3]), key=key).status_code == 401
    assert counts(conn)[0] == 1


def test_a_key_only_writes_its_own_apps_traces(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    trace_id, root, child, other = new_ids()
    assert post(receiver, rag_body(trace_id, root, child)).status_code == 200
    _, intruder = create_key(conn, "intruder", "test")
    late = request([span_spec(trace_id, other, parent=root, name="x")]).SerializeToString()
    response = post(receiver, late, key=intruder)
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert response.status_code == 200 and partial.rejected_spans == 1
    assert "another app" in partial.error_message
    assert counts(conn)[1] == 2


# -- bad input ----------------------------------------------------------------------------
def test_malformed_bodies_get_400_naming_the_problem(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    bad = post(receiver, b"\xff\xff\xff not protobuf")
    assert bad.status_code == 400
    assert (
        "not a protobuf ExportTraceServiceRequest"
        in status_pb2.Status.FromString(bad.content).message
    )
    bad_json = post(receiver, b"{oops", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "not JSON" in bad_json.json()["message"]
    bad_gzip = post(receiver, b"not gzip", headers={"Content-Encoding": "gzip"})
    assert bad_gzip.status_code == 400
    assert counts(conn) == (0, 0, 0)


def test_wrong_content_type_gets_415(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    r = post(receiver, b"hello", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/x-protobuf" in r.json()["message"]
    assert counts(conn) == (0, 0, 0)


def test_bodies_over_the_limit_get_413_also_after_gunzip(conn, make_receiver) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver(otlp_max_body_mb=0.01)  # 10 KiB
    big = rag_body(*new_ids()[:3], padding="x" * 20_000)
    assert post(receiver, big).status_code == 413
    bomb = gzip.compress(big)  # small on the wire, large once inflated
    assert len(bomb) < 10_000
    r = post(receiver, bomb, headers={"Content-Encoding": "gzip"})
    assert (
        r.status_code == 413
        and "VIGIL_OTLP_MAX_BODY_MB" in status_pb2.Status.FromString(r.content).message
    )
    assert counts(conn) == (0, 0, 0)


def test_gzip_bodies_are_accepted(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    body = gzip.compress(rag_body(*new_ids()[:3]))
    assert post(receiver, body, headers={"Content-Encoding": "gzip"}).status_code == 200
    assert counts(conn) == (1, 2, 1)


def test_resent_batches_are_not_duplicated(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    body = rag_body(*new_ids()[:3])
    for _ in range(3):
        assert post(receiver, body).status_code == 200
    assert counts(conn) == (1, 2, 1)


def test_invalid_spans_are_rejected_with_partial_success(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    trace_id, root, child, _ = new_ids()
    body = request([
        span_spec(trace_id, root, name="good"),
        span_spec(b"\x00" * 16, child, name="zero-trace-id"),
        span_spec(trace_id[:8], child, name="short-trace-id"),
    ]).SerializeToString()  # fmt: skip
    r = post(receiver, body)
    partial = ExportTraceServiceResponse.FromString(r.content).partial_success
    assert r.status_code == 200 and partial.rejected_spans == 2
    assert "zero-trace-id" in partial.error_message and "short-trace-id" in partial.error_message
    assert counts(conn) == (1, 1, 0)


def test_document_indexes_that_are_no_rank_stay_plain_attributes(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    trace_id, root, _, _ = new_ids()
    odd = {
        "retrieval.documents.\u00b2.document.content": "superscript two",
        "retrieval.documents.99999999999.document.content": "past the integer rank",
    }
    body = request([span_spec(trace_id, root, name="retrieve", attrs={
        "openinference.span.kind": "RETRIEVER", **odd,
        "retrieval.documents.1.document.content": "a chunk"})]).SerializeToString()  # fmt: skip
    assert post(receiver, body).status_code == 200
    chunks = conn.execute("SELECT rank, content FROM retrievals").fetchall()
    assert [(c["rank"], c["content"]) for c in chunks] == [(1, "a chunk")]
    attributes = conn.execute("SELECT attributes FROM spans").fetchone()["attributes"]
    assert {k: attributes.get(k) for k in odd} == odd


def test_unknown_attributes_are_kept_and_bad_text_is_marked(conn, make_receiver) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver(max_value_chars=100)
    trace_id, root, _, _ = new_ids()
    raw = request([span_spec(trace_id, root, name="naïve", attrs={
        "my.custom": "kept", "input.value": "q" * 500, "nul": "a\x00b",
    })]).SerializeToString()  # fmt: skip
    corrupt = raw.replace("naïve".encode(), b"na\xff\xfeve")  # invalid UTF-8, same length
    assert post(receiver, corrupt).status_code == 200
    span = conn.execute("SELECT name, attributes FROM spans").fetchone()
    assert span["name"] == "na\ufffd\ufffdve"
    assert span["attributes"]["my.custom"] == "kept"
    assert span["attributes"]["nul"] == "a\ufffdb"
    assert span["attributes"]["input.value"].endswith("…[truncated 400 chars]")
    trace = conn.execute("SELECT input FROM traces").fetchone()
    assert trace["input"].startswith("q" * 100) and "truncated" in trace["input"]


def test_pii_is_redacted_when_enabled(conn, make_receiver) -> None:  # type: ignore[no-untyped-def]
    receiver = make_receiver(redact_pii=True)
    trace_id, root, _, _ = new_ids()
    body = request([span_spec(trace_id, root, attrs={
        "openinference.span.kind": "CHAIN", "input.value": "I am ann@example.com",
        "output.value": "Card 4111 1111 1111 1111 noted; call +1 415-555-0199.",
    })]).SerializeToString()  # fmt: skip
    assert post(receiver, body).status_code == 200
    row = conn.execute("SELECT input, output FROM traces").fetchone()
    assert row["input"] == "I am [EMAIL]"
    assert row["output"] == "Card [CARD] noted; call [PHONE]."


# -- assembly -----------------------------------------------------------------------------
def test_a_trace_sent_in_several_batches_is_assembled(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    trace_id, root, retriever, llm = new_ids()
    first = request([
        span_spec(trace_id, retriever, parent=root, name="retrieve", start_ms=1, end_ms=3, attrs={
            "openinference.span.kind": "RETRIEVER",
            "retrieval.documents.0.document.id": "d1",
            "retrieval.documents.0.document.content": "The warranty lasts two years."}),
        span_spec(trace_id, llm, parent=root, name="llm", start_ms=4, end_ms=9, attrs={
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o",
            "output.value": "Two years."}),
    ])  # fmt: skip
    assert post(receiver, first.SerializeToString()).status_code == 200
    row = conn.execute("SELECT complete, output, model, tokens_in FROM traces").fetchone()
    assert not row["complete"] and row["output"] == "Two years." and row["model"] == "gpt-4o"
    assert row["tokens_in"] > 0  # estimated with tiktoken: the app reported none

    second = request(
        [
            span_spec(
                trace_id,
                root,
                name="rag",
                start_ms=0,
                end_ms=10,
                attrs={
                    "openinference.span.kind": "CHAIN",
                    "input.value": "How long is the warranty?",
                },
            )
        ]
    )
    assert post(receiver, second.SerializeToString()).status_code == 200
    row = conn.execute("SELECT * FROM traces").fetchone()
    assert row["complete"] and row["input"] == "How long is the warranty?"
    assert row["latency_ms"] == pytest.approx(10.0)
    assert row["attributes"]["vigil"]["tokens_estimated"] == "tiktoken cl100k_base"
    assert row["cost_usd"] > 0


def test_genai_semantic_conventions_are_mapped(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    trace_id, root, _, _ = new_ids()
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]},
    ]
    body = request([span_spec(trace_id, root, name="chat gpt-4o-mini", attrs={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 20, "gen_ai.usage.output_tokens": 3,
        "gen_ai.input.messages": json.dumps(messages),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "Paris."}]}]),
    })]).SerializeToString()  # fmt: skip
    assert post(receiver, body).status_code == 200
    row = conn.execute("SELECT * FROM traces").fetchone()
    assert (row["input"], row["output"]) == ("Capital of France?", "Paris.")
    assert (row["model"], row["tokens_in"], row["tokens_out"]) == ("gpt-4o-mini-2024-07-18", 20, 3)
    assert conn.execute("SELECT kind FROM spans").fetchone()["kind"] == "llm"


def test_legacy_genai_prompt_attributes_are_mapped(conn, receiver) -> None:  # type: ignore[no-untyped-def]
    trace_id, root, _, _ = new_ids()
    body = request([span_spec(trace_id, root, attrs={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Hi?",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Hello.",
    })]).SerializeToString()  # fmt: skip
    assert post(receiver, body).status_code == 200
    row = conn.execute("SELECT input, output FROM traces").fetchone()
    assert (row["input"], row["output"]) == ("Hi?", "Hello.")


# -- back-pressure --------------------------------------------------------------------------
def test_when_storage_is_stuck_the_receiver_says_503_and_loses_nothing(
    conn,
    db_url: str,
    make_receiver: Callable[..., RunningReceiver],  # type: ignore[no-untyped-def]
) -> None:
    receiver = make_receiver(otlp_max_concurrency=1, otlp_queue_timeout_s=0.5)
    bodies = [rag_body(*new_ids()[:3]) for _ in range(3)]
    assert post(receiver, bodies[0]).status_code == 200
    locker = connect(db_url)
    locker.execute("LOCK TABLE spans IN ACCESS EXCLUSIVE MODE")  # storage cannot proceed
    results: dict[int, httpx.Response] = {}

    def send(i: int) -> None:
        results[i] = post(receiver, bodies[i])

    stuck = threading.Thread(target=send, args=(1,))
    stuck.start()
    time.sleep(0.3)  # the writer slot is taken by batch 1, blocked on the lock
    refused = post(receiver, bodies[2])
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
    locker.rollback()
    locker.close()
    stuck.join(30)
    assert results[1].status_code == 200  # acknowledged only after it was committed
    assert post(receiver, bodies[2]).status_code == 200  # the exporter's retry
    assert counts(conn) == (3, 6, 3)
