"""Fuzzing the decoder and the mapping: any body either maps or fails with DecodeFailure."""

from __future__ import annotations

import json
from functools import partial

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.otlp.payloads import request, span_spec
from vigil.ingest.text import clean
from vigil.otlp.decode import DecodeFailure, decode_request
from vigil.otlp.mapping import map_request

SAFE = partial(clean, max_chars=1000)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode_and_map(body: bytes, kind: str) -> None:
    try:
        message = decode_request(body, kind)
    except DecodeFailure:
        return
    batch = map_request(message, SAFE)
    for span in batch.spans:
        assert len(span.trace_id) == 32 and len(span.span_id) == 16
        json.dumps(span.attributes, default=str)  # storable as jsonb


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_protobuf_path(body: bytes) -> None:
    decode_and_map(body, "application/x-protobuf")


VALID = request([
    span_spec(b"\x01" * 16, b"\x02" * 8, name="root", attrs={
        "openinference.span.kind": "RETRIEVER", "retrieval.documents.0.document.id": "d",
        "retrieval.documents.0.document.content": "c", "input.value": '{"question": "q"}',
        "input.mime_type": "application/json"}),
]).SerializeToString()  # fmt: skip


@FUZZ
@given(st.data())
def test_mutated_valid_bodies_never_crash(data: st.DataObject) -> None:
    body = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(body) - 1))
        body[position] = data.draw(st.integers(0, 255))
    decode_and_map(bytes(body), "application/x-protobuf")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId",
                                       "spanId", "name", "attributes", "key", "value",
                                       "stringValue", "startTimeUnixNano", "x"]),
                      children, max_size=4),
    max_leaves=25,
)  # fmt: skip


@FUZZ
@given(json_values)
def test_random_json_never_crashes_the_json_path(value: object) -> None:
    decode_and_map(json.dumps(value).encode(), "application/json")
