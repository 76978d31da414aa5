"""OTLP attribute values to plain Python, with text made safe to store."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from vigil.ingest.text import TextFilter


def text(value: str | bytes, safe: TextFilter) -> str:
    """A protobuf string (bytes when decoded leniently) as safe text; bad UTF-8 becomes U+FFFD."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return safe(value)


@lru_cache(maxsize=8192)
def _key(raw: str | bytes, safe: TextFilter) -> str:
    """Attribute keys repeat in every span: each distinct key is made safe once."""
    return text(raw, safe)


def any_value(value: Any, safe: TextFilter, depth: int = 0) -> Any:
    """An AnyValue as str, bool, int, float, list or dict."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return text(value.string_value, safe)
    if kind is None:
        return None
    if kind in ("bool_value", "int_value", "double_value"):
        return getattr(value, kind)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if depth > 8:
        return "[nested too deep]"
    if kind == "array_value":
        return [any_value(v, safe, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        return key_values(value.kvlist_value.values, safe, depth + 1)
    return None


def key_values(pairs: Iterable[Any], safe: TextFilter, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in pairs:
        value = kv.value
        if value.WhichOneof("value") == "string_value":  # most values: without the calls
            raw = value.string_value
            out[_key(kv.key, safe)] = safe(
                raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
            )
        else:
            out[_key(kv.key, safe)] = any_value(value, safe, depth)
    return out


def indexed(attrs: dict[str, Any], prefix: str) -> dict[int, dict[str, Any]]:
    """Flattened lists: ``prefix.0.document.id`` -> {0: {"document.id": ...}}."""
    out: dict[int, dict[str, Any]] = {}
    head = prefix + "."
    for key, value in attrs.items():
        if not key.startswith(head):
            continue
        index, _, rest = key[len(head) :].partition(".")
        if index.isdecimal() and rest:
            out.setdefault(int(index), {})[rest] = value
    return dict(sorted(out.items()))
