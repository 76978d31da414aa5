"""OTLP request bodies built with the opentelemetry-proto messages."""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

BASE_NS = 1_767_000_000_000_000_000


def value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=str(v))


def span_spec(trace_id: bytes, span_id: bytes, parent: bytes = b"", name: str = "span",
              attrs: dict[str, Any] | None = None, start_ms: int = 0,
              end_ms: int | None = 10) -> dict[str, Any]:  # fmt: skip
    return {"trace_id": trace_id, "span_id": span_id, "parent": parent, "name": name,
            "attrs": attrs or {}, "start_ms": start_ms, "end_ms": end_ms}  # fmt: skip


def request(specs: list[dict[str, Any]], service: str = "svc") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value=value(service)))
    scope = rs.scope_spans.add()
    for spec in specs:
        span = scope.spans.add()
        span.trace_id = spec["trace_id"]
        span.span_id = spec["span_id"]
        span.parent_span_id = spec["parent"]
        span.name = spec["name"]
        span.start_time_unix_nano = BASE_NS + spec["start_ms"] * 1_000_000
        if spec["end_ms"] is not None:
            span.end_time_unix_nano = BASE_NS + spec["end_ms"] * 1_000_000
        for key, v in spec["attrs"].items():
            span.attributes.append(KeyValue(key=key, value=value(v)))
    return req


def new_ids() -> tuple[bytes, bytes, bytes, bytes]:
    """A trace id and three span ids."""
    return os.urandom(16), os.urandom(8), os.urandom(8), os.urandom(8)
