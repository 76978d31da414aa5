"""Golden items from reviewed production traces: the reviewer's corrected answer is the
reference when there is one; otherwise the answer itself, when it was labeled correct."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigil.db.types import Conn
from vigil.golden.item import GoldenItem, Source
from vigil.store import datasets
from vigil.store.datasets import Version


def reference_of(row: dict[str, Any]) -> tuple[str, bool] | None:
    """The reference answer and whether it is a correction; None when the trace has none
    (labeled wrong without a correction, or no answer)."""
    corrected = (row.get("corrected_answer") or "").strip()
    if corrected:
        return corrected, True
    if row.get("label") == "correct" and (row.get("output") or "").strip():
        return str(row["output"]), False
    return None


def from_review(row: dict[str, Any]) -> GoldenItem | None:
    """An item from a labeled review item joined with its trace
    (:func:`vigil.store.datasets.reviewed`), or None when there is no reference or question."""
    reference = reference_of(row)
    if reference is None or not (row.get("input") or "").strip():
        return None
    answer, corrected = reference
    return GoldenItem(
        id=f"trace-{row['trace_id']}",
        input=row["input"],
        contexts=[c for c in row.get("contexts") or [] if c],
        reference=answer,
        tags=[row["app"], f"label:{row['label']}"],
        source=Source(
            kind="review",
            trace_id=row["trace_id"],
            reviewer=row["reviewer"],
            label=row["label"],
            corrected=corrected,
        ),
        metadata={"app": row["app"], "review_item": row["item_id"]},
    )


@dataclass(frozen=True)
class AddedReviewed:
    """What :func:`add_reviewed` did: the version (None: nothing to add), how many items came
    in or replaced older ones, and how many labeled traces had no reference."""

    version: Version | None
    added: int
    replaced: int
    left_out: int
    labeled: int


def add_reviewed(conn: Conn, name: str, *, by: str, label: str | None = None,
                 since: datetime | None = None, app: str | None = None,
                 trace_ids: Sequence[str] | None = None) -> AddedReviewed:  # fmt: skip
    """Take labeled traces into dataset ``name`` as one new version (the CLI's
    ``add-reviewed`` and the review page's "Add to golden dataset")."""
    rows = datasets.reviewed(conn, label=label, since=since, app=app, trace_ids=trace_ids)
    items = [item for row in rows if (item := from_review(row)) is not None]
    if not items:
        return AddedReviewed(None, 0, 0, len(rows), len(rows))
    what = f"trace {items[0].source.trace_id}" if len(items) == 1 and items[0].source else \
        f"{len(items)} reviewed traces"  # fmt: skip
    result = datasets.extend(conn, name, items, by=by, change=f"add {what}")
    return AddedReviewed(result.version, result.added, result.replaced,
                         len(rows) - len(items), len(rows))  # fmt: skip
