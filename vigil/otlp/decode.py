"""Decode OTLP/HTTP trace export requests, in protobuf or JSON.

Protobuf bodies are parsed with a copy of the OTLP schema in which every ``string`` field is
``bytes`` (the two are the same on the wire). A sender's invalid UTF-8 then never fails the
whole request: the mapping decodes each value with replacement characters instead.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_LENIENT = "vigil_lenient"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class DecodeFailure(ValueError):
    """The body is not an OTLP ExportTraceServiceRequest; the message says why."""


@lru_cache(maxsize=1)
def _lenient_request_class() -> type[Message]:
    """ExportTraceServiceRequest with string fields read as bytes (built once)."""
    pool = descriptor_pool.DescriptorPool()
    original = trace_service_pb2.DESCRIPTOR
    files: list[Any] = []

    def collect(fd: Any) -> None:
        for dep in fd.dependencies:
            collect(dep)
        if fd.name not in {f.name for f in files}:
            files.append(fd)

    collect(original)
    for fd in files:
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        proto.name = f"{_LENIENT}/{proto.name}"
        proto.package = f"{_LENIENT}.{proto.package}"
        proto.dependency[:] = [f"{_LENIENT}/{d}" for d in proto.dependency]
        del proto.service[:]  # only the messages are needed
        for msg in proto.message_type:
            _make_lenient(msg)
        pool.Add(proto)
    name = f"{_LENIENT}.{original.package}.ExportTraceServiceRequest"
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


def _make_lenient(msg: descriptor_pb2.DescriptorProto) -> None:
    for field in msg.field:
        if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
            field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        if field.type_name.startswith(".opentelemetry."):
            field.type_name = f".{_LENIENT}{field.type_name}"
    for nested in msg.nested_type:
        _make_lenient(nested)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def decode_request(body: bytes, content_type: str) -> Message:
    """Parse a body of the given media type; raise DecodeFailure naming the problem."""
    kind = media_type(content_type)
    if kind == PROTOBUF:
        request = _lenient_request_class()()
        try:
            request.ParseFromString(body)
        except DecodeError as err:
            raise DecodeFailure(
                f"the body is not a protobuf ExportTraceServiceRequest ({err})"
            ) from err
        return request
    if kind == JSON:
        return _decode_json(body)
    raise DecodeFailure(f"unsupported content type {content_type!r}")


def _decode_json(body: bytes) -> Message:
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as err:
        raise DecodeFailure(f"the body is not JSON ({err.msg} at line {err.lineno})") from err
    if not isinstance(data, dict):
        raise DecodeFailure("the body must be a JSON object with resourceSpans")
    for resource in _list(data, "resourceSpans", "resource_spans"):
        for scope in _list(resource, "scopeSpans", "scope_spans"):
            for span in _list(scope, "spans"):
                _hex_ids_to_base64(span)
                for link in _list(span, "links"):
                    _hex_ids_to_base64(link)
    request = trace_service_pb2.ExportTraceServiceRequest()
    try:
        json_format.ParseDict(data, request, ignore_unknown_fields=True)
    except json_format.ParseError as err:
        raise DecodeFailure(f"the JSON is not an OTLP ExportTraceServiceRequest ({err})") from err
    return request


def _list(obj: Any, *keys: str) -> list[Any]:
    if not isinstance(obj, dict):
        raise DecodeFailure("expected a JSON object in resourceSpans")
    for key in keys:
        value = obj.get(key)
        if value is not None:
            if not isinstance(value, list):
                raise DecodeFailure(f"{key} must be a list")
            return value
    return []


def _hex_ids_to_base64(span: Any) -> None:
    """OTLP/JSON writes ids in hex; protobuf's JSON mapping wants base64. Bad ids become empty
    (the span is then rejected with a reason, not the whole request)."""
    if not isinstance(span, dict):
        raise DecodeFailure("a span must be a JSON object")
    for key in _ID_FIELDS:
        value = span.get(key)
        if isinstance(value, str) and value:
            try:
                span[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                span[key] = ""
        elif value is not None and not isinstance(value, str):
            span[key] = ""


def encode_response(rejected: int, message: str, content_type: str) -> tuple[bytes, str]:
    """ExportTraceServiceResponse, with partial_success when spans were rejected."""
    response = trace_service_pb2.ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if media_type(content_type) == JSON:
        return json_format.MessageToJson(response).encode(), JSON
    return response.SerializeToString(), PROTOBUF


__all__ = ["JSON", "PROTOBUF", "DecodeFailure", "decode_request", "encode_response"]
