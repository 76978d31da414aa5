"""Segments: the keys a trace is sliced by, read from what apps already send.

A span's segment comes from these sources; when two give the same key, the later one wins:

1. conventions: the resource's ``service.version`` and ``deployment.environment`` (or the
   newer ``deployment.environment.name``); model parameters from ``llm.invocation_parameters``
   and ``gen_ai.request.*`` as ``param.temperature`` / ``param.max_tokens`` / ``param.top_p``;
   ``llm.prompt_template.version`` as ``prompt_template.version``; each of ``tag.tags`` as
   ``tag.<tag>`` = ``true`` (a tag is present or absent, so one key a tag slices by it);
2. the flat values of OpenInference ``metadata`` (a JSON object; nested values are skipped);
3. the span attributes the app promoted with ``vigil segments set`` (their key unchanged);
4. ``vigil.segment.<key>``, set on purpose (the SDK does).

Sources 1-3 are the *derived* segment, 4 the *explicit* one; they merge differently across a
trace's spans (see :func:`vigil.ingest.assembly.segment_of`). Values are stored raw, cut to
200 characters: folding rare values into ``(other)`` is the detector's job at query time, so
ingestion loses nothing. ``session.id`` and ``user.id`` are identities, not segments (one
value a conversation would swamp any slice): they go to the trace's ``attributes["vigil"]``.

The pure functions serve the receiver's mapping; :func:`rebuild_segments` re-applies them
to stored spans.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.ingest.assembly import IDENTITIES, SpanFacts, segment_of, with_identity
from vigil.store import segments as store

MAX_CHARS = 200  # a segment key or value, an identity
MAX_LIST_KEYS = 64  # keys taken from one span's metadata, and from its tags
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
RESOURCE_KEYS = {
    "service.version": ("service.version",),
    "deployment.environment": ("deployment.environment.name", "deployment.environment"),
}
INVOCATION_PARAMS = {  # OpenInference llm.invocation_parameters, names as the providers use
    "temperature": ("temperature",),
    "max_tokens": ("max_tokens", "max_completion_tokens"),
    "top_p": ("top_p",),
}
GENAI_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
}
IDENTITY_ATTRIBUTES = {"session_id": "session.id", "user_id": "user.id"}
# What the mapping derives here, in ``MappedSpan.mapped`` (the rebuild replaces exactly these).
MAPPED_FIELDS = ("segment", "derived_segment", *IDENTITIES)


@dataclass(frozen=True)
class SpanSegment:
    derived: dict[str, str]  # conventions, metadata, promoted attributes
    explicit: dict[str, str]  # vigil.segment.*

    @property
    def merged(self) -> dict[str, str]:
        return {**self.derived, **self.explicit}


def render(value: Any) -> str | None:
    """A scalar as a segment value: ``3``, ``0.7``, ``true``; None for anything else."""
    if value is None:  # most lookups: the attribute is not there
        return None
    if isinstance(value, bool):
        out = "true" if value else "false"
    elif isinstance(value, int):
        out = str(value)
    elif isinstance(value, float):
        integral = math.isfinite(value) and value.is_integer() and abs(value) < 1e15
        out = str(int(value)) if integral else repr(value)
    elif isinstance(value, str):
        out = value
    else:
        return None
    return _clip(out) or None


def _clip(text: str) -> str:
    """Cut to MAX_CHARS; NUL (from JSON ``\\u0000``) cannot be stored in jsonb."""
    return text[:MAX_CHARS].replace("\x00", "\ufffd")


def span_segment(
    attributes: Mapping[str, Any], resource: Mapping[str, Any], promoted: Sequence[str] = ()
) -> SpanSegment:
    """The segment of one span, from its attributes, its resource and the app's promoted
    keys. Malformed values (bad JSON, nested objects) are skipped, never an error."""
    derived = _conventions(attributes, resource)
    if (metadata := attributes.get("metadata")) is not None:
        derived.update(_metadata(metadata))
    for key in promoted:
        value = render(attributes[key] if key in attributes else resource.get(key))
        if value is not None:
            derived[key] = value
    return SpanSegment(derived, _explicit(attributes))


def span_identity(attributes: Mapping[str, Any]) -> dict[str, str]:
    """OpenInference ``session.id`` and ``user.id``, as ``session_id`` / ``user_id``."""
    found = {field: render(attributes.get(key)) for field, key in IDENTITY_ATTRIBUTES.items()}
    return {field: value for field, value in found.items() if value is not None}


def mapped_fields(
    attributes: Mapping[str, Any], resource: Mapping[str, Any], promoted: Sequence[str] = ()
) -> dict[str, Any]:
    """The ``mapped`` fields of a span that this module owns (empty ones left out): the one
    path for the receiver's mapping and for :func:`rebuild_segments`."""
    segment = span_segment(attributes, resource, promoted)
    out: dict[str, Any] = {"segment": segment.explicit, "derived_segment": segment.derived}
    out.update(span_identity(attributes))
    return {k: v for k, v in out.items() if v}


def _conventions(attributes: Mapping[str, Any], resource: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, names in RESOURCE_KEYS.items():
        for name in names:
            if (value := render(resource.get(name))) is not None:
                out[key] = value
                break
    invocation = attributes.get("llm.invocation_parameters")
    params = _json_object(invocation) if invocation is not None else {}
    for name, aliases in INVOCATION_PARAMS.items():
        if not params and GENAI_PARAMS[name] not in attributes:
            continue
        genai = render(_number(attributes.get(GENAI_PARAMS[name])))
        value = genai or next(
            (v for a in aliases if (v := render(_number(params.get(a)))) is not None), None
        )
        if value is not None:
            out[f"param.{name}"] = value
    if (version := render(attributes.get("llm.prompt_template.version"))) is not None:
        out["prompt_template.version"] = version
    if (tags := attributes.get("tag.tags")) is not None:
        out.update(_tags(tags))
    return out


def _number(value: Any) -> Any:
    """Model parameters are numbers; a bool or a string there is not one."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _tags(value: Any) -> dict[str, str]:
    if isinstance(value, str) and value[:1] == "[":  # a JSON list, from lenient senders
        value = _json(value)
    if not isinstance(value, list):
        return {}
    tags = [t for t in value if isinstance(t, str) and t][:MAX_LIST_KEYS]
    return {_clip(f"tag.{t}"): "true" for t in tags}


def _metadata(value: Any) -> dict[str, str]:
    """Flat string, number and boolean values of the ``metadata`` JSON object."""
    flat = ((str(k), render(v)) for k, v in _json_object(value).items() if k)
    return dict([(_clip(k), v) for k, v in flat if v is not None][:MAX_LIST_KEYS])


def _explicit(attributes: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in attributes.items():
        if not key.startswith("vigil.segment.") or key == "vigil.segment.":
            continue
        name = key[len("vigil.segment.") :]
        text = render(value)
        if text is None and value is not None:  # a list or object, set on purpose: keep it
            text = _clip(json.dumps(value, default=str, separators=(",", ":")))
        if text is not None:
            out[_clip(name)] = text
    return out


def _json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _json_object(value: Any) -> Mapping[str, Any]:
    """A JSON object attribute (or one sent as a key-value list); {} for anything else."""
    if isinstance(value, str):
        value = _json(value) if value[:1] == "{" else None
    return value if isinstance(value, Mapping) else {}


def validate_keys(keys: Iterable[str]) -> list[str]:
    """Keys an app promotes, stripped and de-duplicated; a refused key names itself."""
    out: list[str] = []
    for raw in keys:
        key = raw.strip()
        if not KEY_PATTERN.match(key):
            raise VigilError(
                f"segment key {key!r} is not allowed: use letters, digits and . _ - "
                "(at most 64 characters), e.g. --keys app.route,tenant"
            )
        if key not in out:
            out.append(key)
    if not out:
        raise VigilError(
            "no segment keys given: pass --keys K1,K2 (or `vigil segments reset --app A`)"
        )
    return out


# -- rebuilding stored traces --------------------------------------------------------------


@dataclass
class RebuildProgress:
    total: int  # traces with spans in the range
    checked: int = 0
    changed: int = 0  # traces whose segment or identities changed


def remap(mapped: Mapping[str, Any], attributes: Mapping[str, Any], promoted: Sequence[str]
          ) -> dict[str, Any]:  # fmt: skip
    """A stored span's ``mapped`` with this module's fields recomputed from its stored
    attributes (where the receiver keeps the resource, under ``otel.resource``)."""
    resource = attributes.get("otel.resource")
    attrs = {k: v for k, v in attributes.items() if k not in ("otel.resource", "otel.events")}
    kept = {k: v for k, v in mapped.items() if k not in MAPPED_FIELDS}
    return {**kept, **mapped_fields(attrs, resource if isinstance(resource, dict) else {},
                                    promoted)}  # fmt: skip


def rebuild_segments(
    conn: Conn,
    *,
    app: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    batch_size: int = 300,
    progress: Callable[[RebuildProgress], None] | None = None,
) -> RebuildProgress:
    """Recompute segments and identities of stored traces from their spans' attributes,
    with each app's promoted keys; ``batch_size`` traces a transaction. Traces without
    spans (JSONL, the SDK-less paths) keep theirs. Idempotent: a second run changes nothing.
    """
    promoted = store.all_keys(conn)
    done = RebuildProgress(store.count_traces_with_spans(conn, app, start, end))
    after = ""
    while True:
        with conn.transaction():
            heads = store.lock_traces_with_spans(conn, app, start, end, after, batch_size)
            if not heads:
                break
            done.changed += _rebuild_batch(conn, heads, promoted)
        done.checked += len(heads)
        after = heads[-1]["id"]
        if progress:
            progress(done)
    return done


def _rebuild_batch(
    conn: Conn, heads: list[dict[str, Any]], promoted: Mapping[str, Sequence[str]]
) -> int:
    """Rewrite the spans and traces of one locked batch whose fields changed; how many
    traces changed."""
    parts = [h["part_time"] for h in heads]
    spans = store.rebuild_spans(conn, [h["id"] for h in heads], parts)
    span_rows: list[tuple[str, str, dict[str, Any]]] = []
    trace_rows: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    for head in heads:
        keys = promoted.get(head["app"], ())
        facts = []
        for s in spans.get(head["id"], []):
            mapped = remap(s["mapped"], s["attributes"], keys)
            if mapped != s["mapped"]:
                span_rows.append((head["id"], s["span_id"], mapped))
            fields = {k: s[k] for k in ("span_id", "parent_span_id", "kind", "start_time",
                                        "end_time", "status")}  # fmt: skip
            facts.append(SpanFacts(**fields, mapped=mapped))
        if not facts:
            continue
        segment = segment_of(facts)
        attributes = dict(head["attributes"])
        vigil = with_identity(attributes.get("vigil", {}), facts)
        if vigil or "vigil" in attributes:
            attributes["vigil"] = vigil
        if segment != head["segment"] or attributes != head["attributes"]:
            trace_rows.append((head["id"], segment, attributes))
    store.update_span_mapped(conn, span_rows, parts)
    store.update_trace_segments(conn, trace_rows, parts)
    return len(trace_rows)
