"""A small SDK to record RAG calls, exported with the OpenTelemetry SDK over OTLP/HTTP.

    from vigil import sdk

    sdk.configure(endpoint="http://127.0.0.1:4318", api_key="vgl_...")
    with sdk.rag_call("How long is the warranty?", prompt_version="v7") as call:
        call.retrieved([sdk.Chunk("kb-12", "The warranty lasts 3 years.", score=0.83)])
        call.answered("Three years.", model="gpt-4o-mini", tokens_in=1200, tokens_out=40)

    @sdk.traced_rag(prompt_version="v7")
    def answer(question: str) -> str:
        sdk.current_call().retrieved(search(question))
        return llm(question)

Spans follow the OpenInference conventions (a CHAIN root with RETRIEVER and LLM children),
so any OTLP backend understands them. Nothing is sent until :func:`configure` is called.
"""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode

P = ParamSpec("P")
R = TypeVar("R")

_provider: TracerProvider | None = None
_current: contextvars.ContextVar[RagCall | None] = contextvars.ContextVar(
    "vigil_call", default=None
)


@dataclass(frozen=True)
class Chunk:
    """A retrieved chunk: its id in your vector store, its text, the retriever's score."""

    id: str | None
    content: str
    score: float | None = None


def configure(
    endpoint: str | None = None,
    api_key: str | None = None,
    service_name: str = "vigil-sdk-app",
    *,
    exporter: Any = None,
) -> TracerProvider:
    """Send traces to a Vigil receiver (``VIGIL_OTLP_ENDPOINT``, ``VIGIL_API_KEY`` by default).

    ``exporter`` replaces the OTLP/HTTP exporter (for example with another backend's).
    """
    global _provider
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = endpoint or os.environ.get("VIGIL_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        key = api_key or os.environ.get("VIGIL_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        exporter = OTLPSpanExporter(endpoint=f"{base.rstrip('/')}/v1/traces", headers=headers)
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=512))
    if _provider is not None:
        _provider.shutdown()
    _provider = provider
    return provider


def flush(timeout_ms: int = 30_000) -> bool:
    """Export everything recorded so far; returns False on timeout."""
    return _provider.force_flush(timeout_ms) if _provider is not None else True


def shutdown() -> None:
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def _tracer() -> trace.Tracer:
    provider = _provider or trace.get_tracer_provider()
    return provider.get_tracer("vigil.sdk")


class RagCall:
    """One RAG request being recorded; get it from :func:`rag_call` or :func:`current_call`."""

    def __init__(self, root: Span) -> None:
        self.root = root

    def retrieved(self, chunks: Sequence[Chunk], *, query: str | None = None) -> None:
        """Record what the retriever returned (a RETRIEVER span)."""
        attrs: dict[str, Any] = {"openinference.span.kind": "RETRIEVER"}
        if query:
            attrs["input.value"] = query
        for i, chunk in enumerate(chunks):
            prefix = f"retrieval.documents.{i}.document"
            attrs[f"{prefix}.content"] = chunk.content
            if chunk.id is not None:
                attrs[f"{prefix}.id"] = chunk.id
            if chunk.score is not None:
                attrs[f"{prefix}.score"] = float(chunk.score)
        with _tracer().start_as_current_span("retrieve", attributes=attrs):
            pass

    def answered(
        self,
        answer: str,
        *,
        model: str | None = None,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
    ) -> None:
        """Record the model's answer (an LLM span) and set it as the call's output."""
        attrs: dict[str, Any] = {"openinference.span.kind": "LLM", "output.value": answer}
        if model:
            attrs["llm.model_name"] = model
        if tokens_in is not None:
            attrs["llm.token_count.prompt"] = tokens_in
        if tokens_out is not None:
            attrs["llm.token_count.completion"] = tokens_out
        with _tracer().start_as_current_span(model or "llm", attributes=attrs):
            pass
        self.root.set_attribute("output.value", answer)


@contextmanager
def rag_call(
    question: str,
    *,
    prompt_version: str | None = None,
    segment: dict[str, str] | None = None,
    name: str = "rag",
) -> Iterator[RagCall]:
    """Record one RAG request (the CHAIN root span); errors mark it failed and propagate."""
    attrs: dict[str, Any] = {"openinference.span.kind": "CHAIN", "input.value": question}
    if prompt_version:
        attrs["vigil.prompt_version"] = prompt_version
    for key, value in (segment or {}).items():
        attrs[f"vigil.segment.{key}"] = str(value)
    with _tracer().start_as_current_span(name, attributes=attrs) as root:
        call = RagCall(root)
        token = _current.set(call)
        try:
            yield call
        except Exception as err:
            root.set_status(Status(StatusCode.ERROR, str(err)))
            raise
        finally:
            _current.reset(token)


def current_call() -> RagCall:
    """The call :func:`traced_rag` or :func:`rag_call` is recording in this context."""
    call = _current.get()
    if call is None:
        raise RuntimeError("no RAG call is being recorded here; use sdk.rag_call or @traced_rag")
    return call


def traced_rag(
    prompt_version: str | None = None, segment: dict[str, str] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate ``fn(question, ...) -> answer``: the first argument is the question and a
    string result is the answer."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            question = str(args[0]) if args else str(next(iter(kwargs.values()), ""))
            with rag_call(question, prompt_version=prompt_version, segment=segment,
                          name=fn.__name__) as call:  # fmt: skip
                result = fn(*args, **kwargs)
                if isinstance(result, str):
                    call.root.set_attribute("output.value", result)
                return result

        return wrapper

    return decorate
