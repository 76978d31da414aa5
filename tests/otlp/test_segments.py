"""Segments from what apps already send, through the real OTel SDK and OTLP/HTTP exporter.

The sender is OpenInference's tracer provider, whose ``using_attributes`` puts metadata,
tags, session, user and prompt template version on every span, as stock apps do. The
receiver here caches promoted keys for ``TTL`` seconds (VIGIL_OTLP_KEY_CACHE_S).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner
from openinference.instrumentation import TracerProvider, using_attributes
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from cli.main import cli
from tests.conftest import free_port
from tests.otlp.conftest import RunningReceiver
from vigil.db import connect
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.models import Trace
from vigil.otlp.server import create_app
from vigil.settings import load_settings
from vigil.store.keys import create_key
from vigil.store.traces import insert_traces

TTL = 2.0
RESOURCE = {"service.name": "rag-service", "service.version": "1.4.2",
            "deployment.environment": "prod"}  # fmt: skip
FROM_RESOURCE = {"service.version": "1.4.2", "deployment.environment": "prod"}
PARAMS = {"temperature": 0.7, "max_tokens": 512, "top_p": 1, "model": "gpt-4o-mini"}


@pytest.fixture
def cached_receiver(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningReceiver]:
    """A receiver that trusts keys and promoted segment keys for TTL seconds."""
    monkeypatch.setenv("VIGIL_OTLP_KEY_CACHE_S", str(TTL))
    settings = load_settings(database_url=db_url)
    assert settings.otlp_key_cache_s == TTL
    port = free_port()
    config = uvicorn.Config(create_app(settings, db_url), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.05)
    with connect(db_url, autocommit=True) as conn:
        _, key = create_key(conn, "rag-app", "test")
    try:
        yield RunningReceiver(f"http://127.0.0.1:{port}", key, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def provider(cached_receiver: RunningReceiver) -> Iterator[TracerProvider]:
    auth = {"Authorization": f"Bearer {cached_receiver.key}"}
    exporter = OTLPSpanExporter(endpoint=cached_receiver.traces_url, headers=auth)
    sender = TracerProvider(resource=Resource.create(RESOURCE))
    sender.add_span_processor(SimpleSpanProcessor(exporter))
    yield sender
    sender.shutdown()


def send(provider: TracerProvider, question: str, root: dict[str, Any] | None = None) -> str:
    """A CHAIN root with an LLM child; ``root`` adds attributes to the root span."""
    tracer = provider.get_tracer("rag-app")
    attrs = {"openinference.span.kind": "CHAIN", "input.value": question,
             "output.value": "Three years.", **(root or {})}  # fmt: skip
    with tracer.start_as_current_span("rag", attributes=attrs) as span:
        with tracer.start_as_current_span("chat", attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
            "llm.invocation_parameters": json.dumps(PARAMS), "llm.token_count.prompt": 100,
            "llm.token_count.completion": 5, "output.value": "Three years.",
        }):  # fmt: skip
            pass
        trace_id = f"{span.get_span_context().trace_id:032x}"
    assert provider.force_flush()
    return trace_id


def stored(conn: Conn, trace_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM traces WHERE id = %s", (trace_id,)).fetchone()
    assert row is not None, f"trace {trace_id} was not stored"
    return dict(row)


def vigil(db_url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--database-url", db_url])
    if result.exception and not isinstance(result.exception, (SystemExit, VigilError)):
        raise result.exception
    return result


def test_openinference_attributes_become_segment_keys_and_ids_trace_facts(
    conn: Conn, provider: TracerProvider
) -> None:
    metadata = {"route": "technical", "tenant": "acme", "beta": True, "ctx": {"nested": 1},
                "ids": [1, 2]}  # fmt: skip
    with using_attributes(session_id="sess-42", user_id="user-7", metadata=metadata,
                          tags=["vip"], prompt_template_version="v7"):  # fmt: skip
        trace_id = send(provider, "How long is the warranty?")
    row = stored(conn, trace_id)
    assert row["segment"] == {
        "route": "technical", "tenant": "acme", "beta": "true", "tag.vip": "true",
        **FROM_RESOURCE, "param.temperature": "0.7", "param.max_tokens": "512",
        "param.top_p": "1", "prompt_template.version": "v7",
    }  # fmt: skip
    facts = row["attributes"]["vigil"]
    assert (facts["session_id"], facts["user_id"]) == ("sess-42", "user-7")
    assert set(facts) == {"spans", "root_span", "root_ended", "orphans", "priced_as",
                          "session_id", "user_id"}  # fmt: skip
    assert row["prompt_version"] == "v7" and row["complete"]


def test_bad_json_metadata_and_nested_values_are_ignored_and_the_span_kept(
    conn: Conn, provider: TracerProvider
) -> None:
    bad = send(provider, "Bad metadata?", {"metadata": '{"route": "tech'})
    nested = send(provider, "Nested?", {"metadata": json.dumps({"a": {"b": 1}, "c": [1]})})
    for trace_id in (bad, nested):
        row = stored(conn, trace_id)
        assert row["segment"] == {**FROM_RESOURCE, "param.temperature": "0.7",
                                  "param.max_tokens": "512", "param.top_p": "1"}  # fmt: skip
        assert row["output"] == "Three years."
        spans = conn.execute("SELECT count(*) AS n FROM spans WHERE trace_id = %s", (trace_id,))
        assert spans.fetchone()["n"] == 2  # type: ignore[index]


def test_promoted_keys_apply_after_the_cache_ttl_and_rebuild_fills_stored_traces(
    conn: Conn, db_url: str, provider: TracerProvider
) -> None:
    route = {"app.route": "billing", "tenant": "acme"}
    sent = time.monotonic()
    before = send(provider, "Before the keys?", route)  # the receiver caches: no keys
    assert "app.route" not in stored(conn, before)["segment"]
    result = vigil(db_url, "segments", "set", "--app", "rag-app", "--keys", "app.route,tenant")
    assert result.exit_code == 0, result.output
    assert "rag-app: segment keys app.route, tenant" in result.output
    cached = send(provider, "Still cached?", route)
    if time.monotonic() < sent + TTL:  # certainly served from the cache
        assert "app.route" not in stored(conn, cached)["segment"]
    time.sleep(max(0.0, sent + TTL + 0.5 - time.monotonic()))
    after = send(provider, "After the TTL?", route)
    assert stored(conn, after)["segment"] == {**FROM_RESOURCE, **_params(), **route}
    jsonl = Trace(id="jsonl-1", app="rag-app", start_time=datetime.now(UTC),
                  segment={"route": "given"})  # fmt: skip
    with conn.transaction():
        insert_traces(conn, [jsonl])

    rebuilt = vigil(db_url, "segments", "rebuild", "--app", "rag-app")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "3 traces checked, 2 changed" in rebuilt.output
    for trace_id in (before, cached, after):
        assert stored(conn, trace_id)["segment"] == {**FROM_RESOURCE, **_params(), **route}
    assert stored(conn, "jsonl-1")["segment"] == {"route": "given"}
    segments = {r["id"]: r["segment"] for r in conn.execute("SELECT id, segment FROM traces")}
    again = vigil(db_url, "segments", "rebuild")
    assert "3 traces checked, 0 changed" in again.output
    assert {r["id"]: r["segment"] for r in conn.execute("SELECT id, segment FROM traces")} == (
        segments
    )
    late_span(provider, before)  # re-assembly from the rebuilt spans keeps the keys
    row = stored(conn, before)
    assert row["segment"] == {**FROM_RESOURCE, **_params(), **route}
    assert row["attributes"]["vigil"]["spans"] == 3


def test_segments_commands_show_reset_and_refuse_bad_input(conn: Conn, db_url: str) -> None:
    assert "no app has promoted" in vigil(db_url, "segments", "show").output
    vigil(db_url, "segments", "set", "--app", "rag-app", "--keys", "route, tenant,")
    assert "rag-app: route, tenant" in vigil(db_url, "segments", "show").output
    bad = vigil(db_url, "segments", "set", "--app", "rag-app", "--keys", "route,has space")
    assert isinstance(bad.exception, VigilError)
    assert "'has space'" in str(bad.exception) and "letters, digits" in str(bad.exception)
    empty = vigil(db_url, "segments", "rebuild", "--start", "2026-11-08", "--end", "2026-11-01")
    assert isinstance(empty.exception, VigilError) and "--start" in str(empty.exception)
    assert "removed" in vigil(db_url, "segments", "reset", "--app", "rag-app").output
    assert "rag-app has no" in vigil(db_url, "segments", "show", "--app", "rag-app").output
    help_text = vigil(db_url, "segments", "rebuild", "--help").output
    assert "Safe to re-run" in help_text


def late_span(provider: TracerProvider, trace_id: str) -> None:
    """One more span of a stored trace, as a late batch from another service sends it."""
    parent = SpanContext(int(trace_id, 16), 0x1234, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))  # fmt: skip
    context = otel_trace.set_span_in_context(NonRecordingSpan(parent))
    tracer = provider.get_tracer("rag-app")
    with tracer.start_as_current_span("late", context=context,
                                      attributes={"openinference.span.kind": "TOOL"}):  # fmt: skip
        pass
    assert provider.force_flush()


def _params() -> dict[str, str]:
    return {"param.temperature": "0.7", "param.max_tokens": "512", "param.top_p": "1"}
