"""One app's traces and scores over a detection window and its baseline, as columns.

The store hands over plain rows; this module turns them into arrays the tests slice: one
entry per trace, its segment values (high-cardinality keys folded), its operational
columns, and each evaluator version's scores. Metrics are then read as :class:`Series`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from vigil.detection.metrics import BELOW_THRESHOLD, SCORE, TRACE_METRICS, Limits, Metric

OTHER = "(other)"  # the values of a key beyond its top N
NONE = "(none)"  # the trace does not carry the key
DIMENSION_COLUMNS = ("model", "prompt_version")  # trace columns sliced like segment keys
NUMERIC_COLUMNS = ("cost_usd", "tokens_in", "tokens_out", "latency_ms", "chunks")


@dataclass
class AppWindow:
    app: str
    trace_ids: np.ndarray  # str
    in_window: np.ndarray  # bool: in the window (else in the baseline)
    dims: dict[str, np.ndarray]  # key -> value per trace (folded; NONE when absent)
    columns: dict[str, np.ndarray]  # float per trace, nan when unknown; "error" is 0/1
    scores: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]  # (evaluator, version)
    start_times: np.ndarray = field(default_factory=lambda: np.array([], dtype="datetime64[us]"))
    # Earlier incidents by (metric, evaluator, version): their baseline traces are left out.
    incidents: dict[tuple[str, str, str], list[tuple[datetime, datetime]]] = field(
        default_factory=dict
    )

    def __len__(self) -> int:
        return len(self.trace_ids)


@dataclass(frozen=True)
class Series:
    """A metric read per trace: the traces that have it (indexes) and their values."""

    metric: Metric
    evaluator: str  # "" for the trace metrics
    version: str
    idx: np.ndarray
    values: np.ndarray


def fold(values: list[str], cap: int) -> list[str]:
    """Values beyond the ``cap`` most frequent become ``(other)`` (NONE is never folded)."""
    counts = Counter(v for v in values if v != NONE)
    if len(counts) <= cap:
        return values
    keep = {v for v, _ in counts.most_common(cap)}
    return [v if v in keep or v == NONE else OTHER for v in values]


def app_window(
    app: str, traces: list[dict[str, Any]], scores: Iterable[dict[str, Any]], max_values: int
) -> AppWindow:
    """Columns from the store's rows (see :func:`vigil.store.detection.window_traces`)."""
    keys = sorted({k for t in traces for k in (t["segment"] or {})} | set(DIMENSION_COLUMNS))
    dims = {}
    for key in keys:
        raw = [
            str(t[key]) if key in DIMENSION_COLUMNS and t[key] is not None
            else str((t["segment"] or {}).get(key, NONE)) if key not in DIMENSION_COLUMNS
            else NONE
            for t in traces
        ]  # fmt: skip
        dims[key] = np.array(fold(raw, max_values), dtype=object)
    columns = {
        c: np.array([np.nan if t[c] is None else float(t[c]) for t in traces], dtype=float)
        for c in NUMERIC_COLUMNS
    }
    columns["error"] = np.array([t["status"] == "error" for t in traces], dtype=float)
    position = {t["id"]: i for i, t in enumerate(traces)}
    grouped: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
    for s in scores:
        i = position.get(s["trace_id"])
        if i is not None:
            idx, vals = grouped.setdefault((s["evaluator"], s["evaluator_version"]), ([], []))
            idx.append(i)
            vals.append(float(s["value"]))
    return AppWindow(
        app=app,
        trace_ids=np.array([t["id"] for t in traces], dtype=object),
        in_window=np.array([bool(t["in_window"]) for t in traces], dtype=bool),
        dims=dims,
        columns=columns,
        scores={k: (np.array(i, dtype=int), np.array(v)) for k, (i, v) in grouped.items()},
        start_times=_times([t.get("start_time") for t in traces]),
    )


def _times(values: list[datetime | None]) -> np.ndarray:
    """Instants as UTC datetime64 (NaT where unknown), comparable with the incidents'."""
    return np.array([_utc64(v) for v in values], dtype="datetime64[us]")


def _utc64(t: datetime | None) -> np.datetime64:
    if t is None:
        return np.datetime64("NaT")
    return np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "us")


def series(aw: AppWindow, limits: Limits) -> list[Series]:
    """Every metric of the app: two per evaluator version with scores in [0, 1], then the
    trace metrics. Versions are never pooled."""
    out: list[Series] = []
    for (evaluator, version), (idx, vals) in sorted(aw.scores.items()):
        if len(vals) and vals.min() >= 0.0 and vals.max() <= 1.0:
            out.append(_clean(aw, Series(SCORE, evaluator, version, idx, vals)))
            below = (vals < limits.threshold).astype(float)
            out.append(_clean(aw, Series(BELOW_THRESHOLD, evaluator, version, idx, below)))
    for column, metric in TRACE_METRICS:
        values = aw.columns.get(column)
        if values is None:
            continue
        idx = np.flatnonzero(~np.isnan(values))
        out.append(_clean(aw, Series(metric, "", "", idx, values[idx])))
    return out


def _clean(aw: AppWindow, s: Series) -> Series:
    """The series without its baseline traces that fall inside an earlier incident of the
    same metric: the window is compared with how things were before, so an incident that
    lasts stays found, and one that ended does not hide in the next week's baseline."""
    periods = aw.incidents.get((s.metric.name, s.evaluator, s.version))
    if not periods or len(aw.start_times) != len(aw):
        return s
    at = aw.start_times[s.idx]
    inside = np.zeros(len(s.idx), dtype=bool)
    for start, end in periods:
        lo, hi = _utc64(start), _utc64(end)
        inside |= (at >= lo) & (at < hi)
    keep = aw.in_window[s.idx] | ~inside
    return Series(s.metric, s.evaluator, s.version, s.idx[keep], s.values[keep])


def with_similarity(aw: AppWindow, similarity: dict[str, float]) -> AppWindow:
    """The app's columns plus ``question_similarity`` (nan for traces not measured)."""
    column = np.array([similarity.get(t, np.nan) for t in aw.trace_ids], dtype=float)
    aw.columns["question_similarity"] = column
    return aw
