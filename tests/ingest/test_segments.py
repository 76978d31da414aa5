"""Segments from what apps already send: pure functions, no database."""

from __future__ import annotations

import json

import pytest

from vigil.errors import VigilError
from vigil.ingest.segments import (
    mapped_fields,
    remap,
    render,
    span_identity,
    span_segment,
    validate_keys,
)

OPENINFERENCE = {
    "openinference.span.kind": "LLM",
    "metadata": json.dumps({"route": "technical", "tenant": "acme", "beta": True}),
    "tag.tags": ["vip", "eu"],
    "llm.invocation_parameters": json.dumps(
        {"temperature": 0.7, "max_tokens": 512, "top_p": 1.0, "model": "gpt-4o-mini"}
    ),
    "llm.prompt_template.version": "v7",
    "session.id": "sess-1",
    "user.id": "user-9",
}
RESOURCE = {"service.name": "bot", "service.version": "1.4.2", "deployment.environment": "prod"}


def test_a_typical_openinference_span_gives_these_keys_and_nothing_else() -> None:
    segment = span_segment(OPENINFERENCE, RESOURCE)
    assert segment.derived == {
        "route": "technical", "tenant": "acme", "beta": "true",
        "tag.vip": "true", "tag.eu": "true",
        "service.version": "1.4.2", "deployment.environment": "prod",
        "param.temperature": "0.7", "param.max_tokens": "512", "param.top_p": "1",
        "prompt_template.version": "v7",
    }  # fmt: skip
    assert segment.explicit == {}
    assert span_identity(OPENINFERENCE) == {"session_id": "sess-1", "user_id": "user-9"}


def test_values_are_rendered_canonically() -> None:
    assert [render(v) for v in (3, 0.7, 3.0, True, False, "x")] == [
        "3", "0.7", "3", "true", "false", "x"]  # fmt: skip
    assert render(None) is None and render([1]) is None and render({"a": 1}) is None
    assert render("") is None


def test_nested_metadata_values_are_skipped_and_bad_json_is_ignored() -> None:
    nested = {"metadata": json.dumps({"route": "a", "ctx": {"k": 1}, "ids": [1, 2], "n": None})}
    assert span_segment(nested, {}).derived == {"route": "a"}
    for bad in ('{"route": ', "not json", "[1, 2]", '"a string"', "{" * 5000, 42):
        assert span_segment({"metadata": bad}, {}).derived == {}


def test_metadata_sent_as_a_key_value_list_is_read_too() -> None:
    assert span_segment({"metadata": {"route": "a", "n": 2}}, {}).derived == {"route": "a",
                                                                             "n": "2"}  # fmt: skip


def test_values_and_keys_are_cut_to_200_characters_and_never_hold_nul() -> None:
    long = "x" * 500
    segment = span_segment({"metadata": json.dumps({"k": long, long: "v", "z": "a\u0000b"})}, {})
    assert segment.derived["k"] == "x" * 200 and segment.derived["x" * 200] == "v"
    assert segment.derived["z"] == "a\ufffdb"


def test_vigil_segment_wins_over_metadata_and_promoted_over_metadata() -> None:
    attrs = {"metadata": json.dumps({"route": "meta", "tenant": "meta"}), "tenant": "attr",
             "vigil.segment.route": "explicit"}  # fmt: skip
    segment = span_segment(attrs, {}, ["tenant"])
    assert segment.derived == {"route": "meta", "tenant": "attr"}
    assert segment.explicit == {"route": "explicit"}
    assert segment.merged == {"route": "explicit", "tenant": "attr"}


def test_promoted_keys_read_span_attributes_then_the_resource() -> None:
    attrs = {"app.route": "billing", "retries": 2, "flags": ["a"]}
    resource = {"k8s.cluster.name": "eu-1", "app.route": "ignored"}
    keys = ["app.route", "retries", "flags", "k8s.cluster.name", "absent"]
    assert span_segment(attrs, resource, keys).derived == {
        "app.route": "billing", "retries": "2", "k8s.cluster.name": "eu-1"}  # fmt: skip


def test_model_parameters_from_genai_and_invocation_parameters() -> None:
    genai = {"gen_ai.request.temperature": 0.2, "gen_ai.request.max_tokens": 100,
             "gen_ai.request.top_p": 0.9}  # fmt: skip
    assert span_segment(genai, {}).derived == {
        "param.temperature": "0.2", "param.max_tokens": "100", "param.top_p": "0.9"}  # fmt: skip
    completion = {"llm.invocation_parameters": '{"max_completion_tokens": 64, "temperature": "?"}'}
    assert span_segment(completion, {}).derived == {"param.max_tokens": "64"}
    assert span_segment({"llm.invocation_parameters": "{bad"}, {}).derived == {}


def test_the_newer_environment_attribute_wins_and_tags_become_keys() -> None:
    resource = {"deployment.environment.name": "staging", "deployment.environment": "old"}
    assert span_segment({}, resource).derived == {"deployment.environment": "staging"}
    tags = span_segment({"tag.tags": ["vip", "", 3]}, {}).derived
    assert tags == {"tag.vip": "true"}
    assert span_segment({"tag.tags": '["beta"]'}, {}).derived == {"tag.beta": "true"}


def test_mapped_fields_leave_out_what_is_empty() -> None:
    assert mapped_fields({"input.value": "q"}, {}) == {}
    fields = mapped_fields({"vigil.segment.route": "a", "user.id": 7}, {})
    assert fields == {"segment": {"route": "a"}, "user_id": "7"}


def test_remap_recomputes_only_its_fields_from_stored_attributes() -> None:
    stored = {**OPENINFERENCE, "otel.resource": RESOURCE, "otel.events": [], "team": "core"}
    old = {"input": "q", "segment": {"stale": "x"}, "session_id": "old"}
    new = remap(old, stored, ["team"])
    assert new["input"] == "q" and new["session_id"] == "sess-1" and "segment" not in new
    assert new["derived_segment"]["service.version"] == "1.4.2"
    assert new["derived_segment"]["team"] == "core"
    assert remap(new, stored, ["team"]) == new


def test_promoted_keys_are_validated_and_a_refused_key_names_itself() -> None:
    assert validate_keys([" route", "tenant", "route", "app.route-v_2"]) == [
        "route", "tenant", "app.route-v_2"]  # fmt: skip
    for bad in ("has space", "a/b", "x" * 65, ""):
        with pytest.raises(VigilError, match="letters, digits") as err:
            validate_keys(["route", bad])
        assert repr(bad) in str(err.value)
    with pytest.raises(VigilError, match="no segment keys"):
        validate_keys([])
