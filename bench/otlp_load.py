"""The ingestion benchmarks' load: realistic RAG traces recorded with the real OpenTelemetry
SDK and encoded once, before any timing, as the OTLP/HTTP protobuf bodies its exporter sends.

A trace is a CHAIN root, a RETRIEVER with 4 chunks of 150 words and an LLM span. Spans go
into bodies of 512 in the order they end, as ``BatchSpanProcessor`` batches them, so a
trace may be split over two bodies. The SDK draws random ids: every trace is new.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

WORDS = (
    "the router thermostat warranty returns setup battery firmware network device support",
    "account privacy encryption subscription history camera doorbell sensor smoke install",
    "scan code pairing light amber reset settings cloud recordings export delete plan",
)
VOCABULARY = " ".join(WORDS).split()
BATCH = 512  # BatchSpanProcessor's default max_export_batch_size
SPANS_PER_TRACE = 3


@dataclass(frozen=True)
class Bodies:
    """Request bodies (``ExportTraceServiceRequest``, serialized) and the spans they hold."""

    bodies: list[bytes]
    spans: int


def chunk_text(rng: random.Random, words: int = 150) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(words)).capitalize() + "."


def rag_bodies(traces: int, seed: int, batch: int = BATCH) -> Bodies:
    """``traces`` RAG traces (3 spans each) as OTLP/HTTP protobuf bodies of ``batch`` spans."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-rag"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    record_rag_traces(provider.get_tracer("bench"), traces, seed)
    provider.shutdown()
    spans = memory.get_finished_spans()
    bodies = [
        encode_spans(spans[i : i + batch]).SerializeToString() for i in range(0, len(spans), batch)
    ]
    return Bodies(bodies, len(spans))


def record_rag_traces(tracer: Any, traces: int, seed: int) -> None:
    """Record ``traces`` RAG traces with ``tracer`` (an OpenTelemetry SDK tracer)."""
    rng = random.Random(seed)
    chunks = [chunk_text(rng) for _ in range(64)]
    for i in range(traces):
        question = f"Question {seed}-{i}: how long is the warranty of product {i % 97}?"
        with tracer.start_as_current_span("rag", attributes={
            "openinference.span.kind": "CHAIN", "input.value": question,
            "output.value": "The warranty lasts two years.", "vigil.segment.route": "policy",
        }):  # fmt: skip
            docs: dict[str, Any] = {"openinference.span.kind": "RETRIEVER", "input.value": question}
            for rank in range(4):
                docs[f"retrieval.documents.{rank}.document.id"] = f"kb-{rng.randrange(5000)}"
                docs[f"retrieval.documents.{rank}.document.content"] = rng.choice(chunks)
                docs[f"retrieval.documents.{rank}.document.score"] = round(rng.random(), 4)
            with tracer.start_as_current_span("retrieve", attributes=docs):
                pass
            with tracer.start_as_current_span("chat", attributes={
                "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 900 + i % 50, "llm.token_count.completion": 30,
                "output.value": "The warranty lasts two years.",
            }):  # fmt: skip
                pass
