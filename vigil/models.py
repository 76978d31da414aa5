"""The trace model: what Vigil stores about one request to the monitored application.

These types are the core's contract with ingestion (JSONL, SDK, OTLP) and with evaluators.
They carry no database driver imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

SpanKind = Literal["llm", "retriever", "chain", "tool", "embedding", "other"]


class Retrieval(BaseModel):
    """One chunk the application retrieved, as it was at the time."""

    model_config = ConfigDict(extra="forbid")

    document_id: str | None = None
    content: str
    score: float | None = None
    rank: int | None = Field(None, ge=0, description="Defaults to the position in the list.")
    span_id: str = ""


class Span(BaseModel):
    model_config = ConfigDict(extra="forbid")

    span_id: str = Field(min_length=1)
    parent_span_id: str | None = None
    kind: SpanKind = "other"
    name: str
    start_time: AwareDatetime
    end_time: AwareDatetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


@dataclass
class MappedSpan:
    """A span as received (OTLP), with the fields Vigil evaluates already mapped.

    Protocol-free on purpose: ingestion assembles traces from it and the store writes it,
    neither needing to know which wire format or convention it came from.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_time: datetime
    end_time: datetime | None
    status: str
    attributes: dict[str, Any]
    mapped: dict[str, Any] = field(default_factory=dict)  # input, output, model, tokens, ...
    retrievals: list[dict[str, Any]] = field(default_factory=list)  # rank, content, ...


class Trace(BaseModel):
    """One request: the question, what was retrieved, the answer, and how it was served."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=256)
    app: str = Field(min_length=1, max_length=200)
    start_time: AwareDatetime
    end_time: AwareDatetime | None = None
    latency_ms: float | None = Field(None, ge=0)
    input: str | None = None
    output: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    segment: dict[str, str] = Field(
        default_factory=dict, description="Attributes to slice by: route, tenant, ..."
    )
    tokens_in: int | None = Field(None, ge=0)
    tokens_out: int | None = Field(None, ge=0)
    cost_usd: float | None = Field(None, ge=0)
    status: Literal["ok", "error"] = "ok"
    user_feedback: Literal[-1, 0, 1] | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    retrievals: list[Retrieval] = Field(default_factory=list)
    spans: list[Span] = Field(default_factory=list)

    @model_validator(mode="after")
    def _derive(self) -> Trace:
        if self.end_time is not None:
            if self.end_time < self.start_time:
                raise ValueError("end_time is before start_time")
            if self.latency_ms is None:
                delta = self.end_time - self.start_time
                self.latency_ms = delta.total_seconds() * 1000.0
        for position, chunk in enumerate(self.retrievals):
            if chunk.rank is None:
                chunk.rank = position
        ranks = [(c.span_id, c.rank) for c in self.retrievals]
        if len(set(ranks)) != len(ranks):
            raise ValueError("two retrievals share a rank")
        return self

    @property
    def contexts(self) -> list[str]:
        """Retrieved chunk texts in rank order."""
        return [c.content for c in sorted(self.retrievals, key=lambda c: c.rank or 0)]

    @property
    def reference(self) -> str | None:
        """The expected answer, for datasets that have one (``attributes.reference``)."""
        value = self.attributes.get("reference")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def relevant_document_ids(self) -> list[str]:
        """Ids that a golden set labels relevant (``attributes.relevant_document_ids``)."""
        value = self.attributes.get("relevant_document_ids")
        if not isinstance(value, list):
            return []
        return [str(v) for v in value if v is not None and str(v)]


ScoreStatus = Literal["scored", "skipped", "error"]


NOT_ATTEMPTED = "not_attempted"


class Score(BaseModel):
    """An evaluator's judgement of one trace.

    Only ``scored`` carries a result: a ``value`` in [0, 1] (higher is better), a ``label``, or
    a ``measure`` (an unbounded quantity such as latency in ms, with its unit in
    ``metadata["unit"]``). ``skipped`` (with a reason) and ``error`` (with a message) carry
    none, so a failure can never be mistaken for a low score.
    """

    model_config = ConfigDict(frozen=True)

    status: ScoreStatus
    value: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)
    label: str | None = None
    measure: float | None = Field(None, allow_inf_nan=False)
    explanation: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Score:
        results = (self.value, self.label, self.measure)
        if self.status == "scored" and all(r is None for r in results):
            raise ValueError("a scored result needs a value, a label or a measure")
        if self.status != "scored" and any(r is not None for r in results):
            raise ValueError(f"a {self.status} result carries no value, label or measure")
        if self.status != "scored" and not self.explanation:
            raise ValueError(f"a {self.status} result needs an explanation (reason or message)")
        if self.measure is not None and not self.metadata.get("unit"):
            raise ValueError("a measure needs its unit in metadata['unit']")
        return self

    @classmethod
    def scored(cls, value: float, explanation: str | None = None, **metadata: Any) -> Score:
        return cls(status="scored", value=value, explanation=explanation, metadata=metadata)

    @classmethod
    def labeled(cls, label: str, explanation: str | None = None, **metadata: Any) -> Score:
        return cls(status="scored", label=label, explanation=explanation, metadata=metadata)

    @classmethod
    def measured(
        cls, measure: float, unit: str, explanation: str | None = None, **metadata: Any
    ) -> Score:
        return cls(
            status="scored",
            measure=measure,
            explanation=explanation,
            metadata={"unit": unit, **metadata},
        )

    @classmethod
    def skipped(cls, reason: str) -> Score:
        return cls(status="skipped", explanation=reason)

    @classmethod
    def error(cls, message: str, **metadata: Any) -> Score:
        return cls(status="error", explanation=message, metadata=metadata)

    @property
    def not_attempted(self) -> bool:
        """An error that says the trace was not evaluated at all (the run's judge budget was
        spent before it): never stored, so the next run takes the trace as new."""
        return self.status == "error" and bool(self.metadata.get(NOT_ATTEMPTED))
