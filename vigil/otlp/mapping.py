"""Map OTLP spans to Vigil's model, from OpenInference or OpenTelemetry GenAI attributes.

Every attribute is kept (in ``spans.attributes``); the mapping adds the fields Vigil
evaluates: question and answer, model, tokens, retrieved chunks, prompt version, segment
(see :mod:`vigil.ingest.segments`), session and user ids.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vigil.ingest.segments import mapped_fields
from vigil.ingest.text import TextFilter
from vigil.models import MappedSpan
from vigil.otlp.attributes import indexed, key_values, text

OPENINFERENCE_KINDS = {
    "LLM": "llm", "RETRIEVER": "retriever", "RERANKER": "retriever", "CHAIN": "chain",
    "AGENT": "chain", "TOOL": "tool", "EMBEDDING": "embedding",
}  # fmt: skip
GENAI_OPERATIONS = {
    "chat": "llm", "text_completion": "llm", "generate_content": "llm", "embeddings": "embedding",
    "execute_tool": "tool", "invoke_agent": "chain", "create_agent": "chain",
    "retrieval": "retriever",
}  # fmt: skip
_NUMBER = (int, float)  # a tuple: `int | float` builds a new union object at every call
TEXT_KEYS = ("input", "question", "query", "prompt", "content", "text", "output", "answer")


@dataclass
class MappedBatch:
    spans: list[MappedSpan]
    rejected: list[str]  # one reason a rejected span


def _time(nanos: int) -> datetime | None:
    return datetime.fromtimestamp(nanos / 1e9, UTC) if nanos else None


def _hex_id(raw: bytes, size: int) -> str | None:
    return raw.hex() if len(raw) == size and any(raw) else None


def map_request(request: Any, safe: TextFilter, promoted: Sequence[str] = ()) -> MappedBatch:
    """Map an export request; ``promoted`` are the sending app's promoted segment keys."""
    spans: list[MappedSpan] = []
    rejected: list[str] = []
    for resource_spans in request.resource_spans:
        resource = key_values(resource_spans.resource.attributes, safe)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                mapped = _map_span(span, resource, safe, promoted)
                if isinstance(mapped, str):
                    rejected.append(mapped)
                else:
                    spans.append(mapped)
    return MappedBatch(spans, rejected)


def _map_span(
    span: Any, resource: dict[str, Any], safe: TextFilter, promoted: Sequence[str]
) -> MappedSpan | str:
    trace_id = _hex_id(span.trace_id, 16)
    span_id = _hex_id(span.span_id, 8)
    name = text(span.name, safe) or "(unnamed)"
    if trace_id is None or span_id is None:
        return f"span {name!r}: trace_id must be 16 bytes and span_id 8 bytes, not all zero"
    start = _time(span.start_time_unix_nano)
    if start is None:
        return f"span {name!r} ({span_id}): start_time_unix_nano is missing"
    attrs = key_values(span.attributes, safe)
    events = [
        {"name": text(e.name, safe), "attributes": key_values(e.attributes, safe)}
        for e in span.events
    ]
    mapped = _fields(attrs, events)
    mapped.update(mapped_fields(attrs, resource, promoted))
    mapped["service"] = resource.get("service.name")
    stored, documents = _split_documents(attrs)
    status = "error" if span.status.code == 2 else "ok"  # STATUS_CODE_ERROR
    stored["otel.resource"] = resource
    if events:
        stored["otel.events"] = events
    return MappedSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=_hex_id(span.parent_span_id, 8),
        name=name,
        kind=_kind(attrs),
        start_time=start,
        end_time=_time(span.end_time_unix_nano),
        status=status,
        attributes=stored,
        mapped=mapped,
        retrievals=[_document(i, d) for i, d in documents.items()],
    )


_DOCUMENTS = "retrieval.documents."
_MAX_RANK_DIGITS = 9  # a chunk's rank is an integer column: below 2**31


def _split_documents(attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The attributes to store, and the retrieved documents (as :func:`indexed` reads
    ``retrieval.documents``), in one pass. Chunk texts are stored once, in the retrievals
    table, not again in the attributes. An index too large to be a rank is no document: its
    keys stay plain attributes."""
    stored: dict[str, Any] = {}
    documents: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if key.startswith(_DOCUMENTS):
            index, _, rest = key[len(_DOCUMENTS) :].partition(".")
            if index.isdecimal() and rest and len(index.lstrip("0")) <= _MAX_RANK_DIGITS:
                documents.setdefault(int(index), {})[rest] = value
                if key.endswith(".document.content"):
                    continue
        stored[key] = value
    return stored, dict(sorted(documents.items()))


def _kind(attrs: dict[str, Any]) -> str:
    oi = str(attrs.get("openinference.span.kind", "")).upper()
    if oi:
        return OPENINFERENCE_KINDS.get(oi, "other")
    op = str(attrs.get("gen_ai.operation.name", "")).lower()
    return GENAI_OPERATIONS.get(op, "other")


def _fields(attrs: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields Vigil evaluates, from whichever convention the span uses."""
    genai = any(k[:7] == "gen_ai." for k in attrs) or any(
        e["name"].startswith("gen_ai.") for e in events
    )
    out: dict[str, Any] = {
        "input": _value_text(attrs, "input") or (_genai_input(attrs, events) if genai else None),
        "output": _value_text(attrs, "output") or (_genai_output(attrs, events) if genai else None),
        "model": attrs.get("llm.model_name") or attrs.get("gen_ai.response.model")
        or attrs.get("gen_ai.request.model"),
        "tokens_in": _int(attrs, "llm.token_count.prompt", "gen_ai.usage.input_tokens",
                          "gen_ai.usage.prompt_tokens"),
        "tokens_out": _int(attrs, "llm.token_count.completion", "gen_ai.usage.output_tokens",
                           "gen_ai.usage.completion_tokens"),
        "cost_usd": _float(attrs, "llm.cost.total"),
        "prompt_version": attrs.get("vigil.prompt_version")
        or attrs.get("llm.prompt_template.version"),
    }  # fmt: skip
    return {k: v for k, v in out.items() if v not in (None, "", [], {})}


ID_KEYS = ("id", "document_id", "doc_id", "chunk_id", "_id")
SCORE_KEYS = ("score", "relevance_score", "similarity", "_score")


def _document(rank: int, doc: dict[str, Any]) -> dict[str, Any]:
    """A retrieved chunk. Instrumentations that record no ``document.id``/``score`` (such as
    LangChain's) still carry the document metadata, where apps usually keep both."""
    meta = doc.get("document.metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            meta = None
    meta = meta if isinstance(meta, dict) else {}
    doc_id = doc.get("document.id") or next((meta[k] for k in ID_KEYS if meta.get(k)), None)
    score = _float(doc, "document.score")
    if score is None:
        score = next((_float(meta, k) for k in SCORE_KEYS if _float(meta, k) is not None), None)
    return {"rank": rank, "document_id": _str(doc_id),
            "content": _str(doc.get("document.content")) or "", "score": score}  # fmt: skip


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(attrs: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, _NUMBER) and not isinstance(value, bool) and value >= 0:
            return int(value)
    return None


def _float(attrs: dict[str, Any], key: str) -> float | None:
    value = attrs.get(key)
    if isinstance(value, _NUMBER) and not isinstance(value, bool):
        return float(value)
    return None


def _value_text(attrs: dict[str, Any], prefix: str) -> str | None:
    """OpenInference ``input.value`` / ``output.value``; JSON payloads reduced to their text."""
    value = attrs.get(f"{prefix}.value")
    if value is None:
        if f"llm.{prefix}_messages.0.message.content" not in attrs:
            return None
        messages = indexed(attrs, f"llm.{prefix}_messages")
        contents = [m.get("message.content") for m in messages.values() if m.get("message.content")]
        if not contents:
            return None
        return str(contents[-1] if prefix == "input" else contents[0])
    if attrs.get(f"{prefix}.mime_type") == "application/json" or str(value)[:1] in "{[":
        return _json_text(str(value)) or str(value)
    return str(value)


def _json_text(raw: str) -> str | None:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, ValueError):
        return None
    return _text_of(data)


def _text_of(data: Any, depth: int = 0) -> str | None:
    if isinstance(data, str):
        return data
    if depth > 4:
        return None
    if isinstance(data, dict):
        for key in TEXT_KEYS:
            if key in data and (found := _text_of(data[key], depth + 1)):
                return found
        strings = [v for v in data.values() if isinstance(v, str)]
        return strings[0] if len(strings) == 1 else None
    if isinstance(data, list) and data:
        return _text_of(data[-1], depth + 1)
    return None


def _genai_input(attrs: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    if (raw := attrs.get("gen_ai.input.messages")) is not None:
        return _messages_text(raw, role="user")
    prompts = [
        p for p in indexed(attrs, "gen_ai.prompt").values() if p.get("role", "user") == "user"
    ]
    if prompts and prompts[-1].get("content"):
        return str(prompts[-1]["content"])
    users = [e["attributes"] for e in events if e["name"] == "gen_ai.user.message"]
    return _str(users[-1].get("content")) if users else None


def _genai_output(attrs: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    if (raw := attrs.get("gen_ai.output.messages")) is not None:
        return _messages_text(raw, role="assistant")
    completions = indexed(attrs, "gen_ai.completion")
    if completions and (first := next(iter(completions.values()))).get("content"):
        return str(first["content"])
    for event in events:
        if event["name"] == "gen_ai.choice":
            message = event["attributes"].get("message") or event["attributes"]
            content = message.get("content") if isinstance(message, dict) else None
            if content is None and isinstance(message, str):
                content = _json_text(message)
            if content:
                return str(content)
    return None


def _messages_text(raw: Any, role: str) -> str | None:
    """Text of the last message with ``role`` in a GenAI messages JSON value."""
    try:
        messages = json.loads(raw) if isinstance(raw, str) and raw[:1] == "[" else raw
    except json.JSONDecodeError:
        return _str(raw)
    if not isinstance(messages, list):
        return _str(raw)
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == role:
            parts = message.get("parts") or [{"content": message.get("content")}]
            texts = [
                str(p.get("content")) for p in parts if isinstance(p, dict) and p.get("content")
            ]
            if texts:
                return "\n".join(texts)
    return None
