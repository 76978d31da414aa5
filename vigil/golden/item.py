"""A golden dataset's item: what the application is asked, what it should find or answer,
and where the item came from.

A RAG item has an ``input`` (the question), optionally the ``contexts`` to answer from or a
``retrieval`` spec (the documents a good retrieval finds), and a ``reference`` answer. A code
item has the HumanEval fields: ``input`` is the prompt, ``entry_point`` the function and
``test`` the code defining ``check(candidate)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A dataset's name (the CHECK on datasets.name, migration 0015).
DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
NAME_RULE = "letters, digits, '_', '.' or '-' (up to 100, starting with a letter or digit)"


def is_dataset_name(name: str) -> bool:
    return DATASET_NAME.fullmatch(name) is not None


class RetrievalSpec(BaseModel):
    """What a good retrieval returns for the item: the relevant document ids, within ``k``."""

    model_config = ConfigDict(extra="forbid")

    relevant_document_ids: list[str] = Field(min_length=1)
    k: int | None = Field(None, ge=1)


class Source(BaseModel):
    """Where an item came from: a file, or a trace a reviewer labeled."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["file", "review"]
    file: str | None = None
    trace_id: str | None = None
    reviewer: str | None = None
    label: str | None = None
    corrected: bool | None = None  # the reference is the reviewer's corrected answer


class GoldenItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=256)
    input: str = Field(min_length=1)
    contexts: list[str] = Field(default_factory=list)
    retrieval: RetrievalSpec | None = None
    reference: str | None = None
    entry_point: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    test: str | None = None
    tags: list[str] = Field(default_factory=list)
    source: Source | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _code_fields(self) -> GoldenItem:
        if (self.test is None) != (self.entry_point is None):
            raise ValueError("a code item needs both entry_point and test (HumanEval format)")
        return self

    @property
    def kind(self) -> Literal["code", "rag"]:
        return "code" if self.test is not None else "rag"

    def content_hash(self) -> str:
        """sha256 of the canonical JSON: equal items share one stored row."""
        return digest(self.model_dump(mode="json", exclude_none=True))


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def item_key(input_text: str) -> str:
    """The id of an item that has none in its file: stable, from its input."""
    return "item-" + hashlib.sha256(input_text.encode("utf-8")).hexdigest()[:12]


def from_record(record: dict[str, Any], source: Source | None = None) -> GoldenItem:
    """An item from one JSON object: Vigil's fields, or a HumanEval problem (``task_id``,
    ``prompt``, ``entry_point``, ``test``, ``canonical_solution`` as the reference)."""
    if "task_id" in record and "prompt" in record:
        record = {
            "id": record["task_id"],
            "input": record["prompt"],
            "entry_point": record.get("entry_point"),
            "test": record.get("test"),
            "reference": record.get("canonical_solution"),
            "tags": ["code"],
        }
    else:
        record = dict(record)
        if not record.get("id") and isinstance(record.get("input"), str):
            record["id"] = item_key(record["input"])
    if source is not None and "source" not in record:
        record["source"] = source.model_dump(exclude_none=True)
    return GoldenItem.model_validate(record)


def version_hash(items: list[GoldenItem]) -> str:
    """A version's content: its items' keys and hashes, in order."""
    return digest([[item.id, item.content_hash()] for item in items])
