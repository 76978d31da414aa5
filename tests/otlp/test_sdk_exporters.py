"""The OpenTelemetry SDK's own OTLP/HTTP exporters (protobuf and JSON) against the receiver."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.json.http.trace_exporter import (
    OTLPSpanExporter as JsonSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as ProtoSpanExporter,
)

from tests.otlp.conftest import RunningReceiver, tracer_provider

CHUNKS = [
    ("kb-12", "The Tempo Thermostat has a 3-year limited warranty.", 0.83),
    ("kb-40", "Returns are accepted within 60 days of delivery.", 0.61),
]


def send_rag_trace(provider: Any, question: str, answer: str) -> str:
    """A CHAIN root with a RETRIEVER and an LLM child, in OpenInference conventions."""
    tracer = provider.get_tracer("rag-app")
    with tracer.start_as_current_span("rag", attributes={
        "openinference.span.kind": "CHAIN", "input.value": question, "output.value": answer,
        "llm.prompt_template.version": "v7", "vigil.segment.route": "policy",
    }) as root:  # fmt: skip
        docs: dict[str, Any] = {"openinference.span.kind": "RETRIEVER", "input.value": question}
        for i, (doc_id, content, score) in enumerate(CHUNKS):
            docs[f"retrieval.documents.{i}.document.id"] = doc_id
            docs[f"retrieval.documents.{i}.document.content"] = content
            docs[f"retrieval.documents.{i}.document.score"] = score
        with tracer.start_as_current_span("retrieve", attributes=docs):
            pass
        with tracer.start_as_current_span("chat", attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini-2024-07-18",
            "llm.token_count.prompt": 1200, "llm.token_count.completion": 40,
            "output.value": answer,
        }):  # fmt: skip
            pass
        trace_id = f"{root.get_span_context().trace_id:032x}"
    provider.force_flush()
    return trace_id


@pytest.mark.parametrize("exporter_class", [ProtoSpanExporter, JsonSpanExporter],
                         ids=["protobuf", "json"])  # fmt: skip
def test_sdk_exporter_yields_a_complete_trace(
    conn,
    receiver: RunningReceiver,
    exporter_class: Any,  # type: ignore[no-untyped-def]
) -> None:
    exporter = exporter_class(endpoint=receiver.traces_url,
                              headers={"Authorization": f"Bearer {receiver.key}"})  # fmt: skip
    provider = tracer_provider(exporter)
    trace_id = send_rag_trace(provider, "How long is the warranty?", "Three years.")
    row = conn.execute("SELECT * FROM traces WHERE id = %s", (trace_id,)).fetchone()
    assert row is not None, "the trace was not stored"
    assert row["app"] == "rag-app" and row["complete"]
    assert (row["input"], row["output"]) == ("How long is the warranty?", "Three years.")
    assert row["model"] == "gpt-4o-mini-2024-07-18" and row["prompt_version"] == "v7"
    assert (row["tokens_in"], row["tokens_out"]) == (1200, 40)
    assert row["cost_usd"] == pytest.approx((1200 * 0.15 + 40 * 0.60) / 1e6)
    assert row["segment"] == {"route": "policy", "prompt_template.version": "v7"}
    chunks = conn.execute(
        "SELECT rank, document_id, content, score FROM retrievals WHERE trace_id = %s"
        " ORDER BY rank", (trace_id,),
    ).fetchall()  # fmt: skip
    assert [(c["document_id"], c["content"], c["score"]) for c in chunks] == CHUNKS
    kinds = conn.execute(
        "SELECT kind FROM spans WHERE trace_id = %s ORDER BY kind", (trace_id,)
    ).fetchall()
    assert [k["kind"] for k in kinds] == ["chain", "llm", "retriever"]
    provider.shutdown()
