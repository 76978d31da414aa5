"""Sender processes for the ingestion benchmark: realistic RAG traces through the real
OpenTelemetry SDK (BatchSpanProcessor, batches of 512, OTLP/HTTP protobuf)."""

from __future__ import annotations

import random
import time
from typing import Any

WORDS = (
    "the router thermostat warranty returns setup battery firmware network device support",
    "account privacy encryption subscription history camera doorbell sensor smoke install",
    "scan code pairing light amber reset settings cloud recordings export delete plan",
)
VOCABULARY = " ".join(WORDS).split()


def chunk_text(rng: random.Random, words: int = 150) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(words)).capitalize() + "."


def send_traces(url: str, headers: dict[str, str], traces: int, seed: int) -> dict[str, Any]:
    """Send ``traces`` RAG traces (3 spans each); returns what was handed to the exporter."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    rng = random.Random(seed)
    chunks = [chunk_text(rng) for _ in range(64)]
    exporter = OTLPSpanExporter(endpoint=url, headers=headers, timeout=60)
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-rag"}))
    # A queue as large as the run: the client never drops spans, so any loss is the server's.
    processor = BatchSpanProcessor(
        exporter, max_queue_size=max(traces * 3 + 1, 2048), max_export_batch_size=512,
        schedule_delay_millis=200,
    )  # fmt: skip
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    started = time.time()
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
    provider.force_flush(timeout_millis=600_000)
    provider.shutdown()
    return {"spans": traces * 3, "started": started, "finished": time.time()}
