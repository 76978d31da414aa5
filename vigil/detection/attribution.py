"""Which segment explains a change, and, for cost and tokens, what grew.

A segment value's part of the app's change is its traffic share in the window times its
own change against its own baseline (the app's baseline when the value is new): summed over
a key's values this is the app's change less the shift of the mix. Values are ranked by
that part over the app's change; when the first two come from different keys (a new prompt
version shipped on one route), their intersection is named if it explains nearly as much.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vigil.detection.data import DIMENSION_COLUMNS, NONE, AppWindow, Series
from vigil.detection.metrics import Limits

CONJUNCTION_KEEP = 0.8  # the intersection is named when it explains this much of the first
MIX_CHANGE = 0.15  # a dimension value whose traffic share moved this much is "changed"


@dataclass(frozen=True)
class Share:
    segment: dict[str, str]
    explains: float  # part of the app's change, 1.0 = all of it
    traffic: float  # share of the window's traffic
    window_stat: float
    baseline_stat: float | None  # None: the value is new (no baseline of its own)
    new: dict[str, bool] = field(default_factory=dict)

    def describe(self) -> str:
        parts = [f"{k}={v}{' (new)' if self.new.get(k) else ''}" for k, v in self.segment.items()]
        return f"{', '.join(parts)} explains {max(0.0, min(self.explains, 1.0)):.0%}"


def indicator(aw: AppWindow, s: Series) -> np.ndarray:
    """The values attribution averages: a quantile metric becomes 'above the baseline's
    quantile' (0/1); the others are their own values."""
    if s.metric.kind != "quantile":
        return s.values
    base = s.values[~aw.in_window[s.idx]]
    if len(base) == 0:
        return np.zeros_like(s.values)
    return (s.values > np.quantile(base, s.metric.quantile)).astype(float)


def attribute(aw: AppWindow, s: Series, limits: Limits, top: int = 5) -> list[Share]:
    """The segments ranked by the part of the app's change they explain, best first."""
    vals, win = indicator(aw, s), aw.in_window[s.idx]
    if not win.any() or win.all():
        return []
    sign = 1.0 if s.metric.bad == "up" else -1.0
    base_all = float(vals[~win].mean())
    by_quantile = s.metric.kind == "quantile"
    raw, q = (s.values, s.metric.quantile) if by_quantile else (None, None)
    shares: list[Share] = []
    positive_by_key: dict[str, float] = {}
    for key, column in aw.dims.items():
        col = column[s.idx]
        for value in np.unique(col[win]):
            if value == NONE or (col[win] == value).all():
                continue  # absent, or every trace of the window: the key does not split it
            segment = {key: str(value)}
            share = _part(vals, win, col == value, sign, base_all, limits, segment, raw, q)
            shares.append(share)
            positive_by_key[key] = positive_by_key.get(key, 0.0) + max(share.explains, 0.0)
    total = sign * (float(vals[win].mean()) - base_all)
    denominator = total if total > 1e-12 else max(positive_by_key.values(), default=0.0)
    if denominator <= 0:
        return []
    ranked = sorted(
        (_scaled(x, denominator) for x in shares), key=lambda x: x.explains, reverse=True
    )
    if len(ranked) >= 2 and set(ranked[0].segment) != set(ranked[1].segment):
        both = {**ranked[0].segment, **ranked[1].segment}
        mask = np.ones(len(vals), dtype=bool)
        for key, value in both.items():
            mask &= aw.dims[key][s.idx] == value
        if (mask & win).any():
            part = _part(vals, win, mask, sign, base_all, limits, both, raw, q)
            conj = _scaled(part, denominator)
            conj = replace(conj, new={**ranked[0].new, **ranked[1].new})
            if conj.explains >= CONJUNCTION_KEEP * ranked[0].explains:
                ranked.insert(0, conj)
    return ranked[:top]


def _part(
    vals: np.ndarray,
    win: np.ndarray,
    mask: np.ndarray,
    sign: float,
    base_all: float,
    limits: Limits,
    segment: dict[str, str],
    raw: np.ndarray | None = None,
    quantile: float | None = None,
) -> Share:
    """A segment's unscaled part of the change (its ``explains`` is the raw part). For a
    quantile metric (``raw`` and ``quantile`` given), a segment with a baseline of its own
    is measured against its own quantile: a fast model slowed down matters even when its
    slower traces stay under the app's p95."""
    in_w, in_b = mask & win, mask & ~win
    traffic = float(in_w.sum() / win.sum())
    is_new = limits.is_new(int(in_b.sum()), traffic, int((~win).sum()))
    if raw is not None and quantile is not None and not is_new and in_b.any():
        own = np.quantile(raw[in_b], quantile)
        vals = (raw > own).astype(float)
    w_stat = float(vals[in_w].mean())
    b_stat = base_all if is_new else float(vals[in_b].mean())
    return Share(
        segment=segment,
        explains=traffic * sign * (w_stat - b_stat),
        traffic=traffic,
        window_stat=w_stat,
        baseline_stat=None if is_new else b_stat,
        new={k: is_new for k in segment} if len(segment) == 1 else {},
    )


def _scaled(share: Share, denominator: float) -> Share:
    return replace(share, explains=share.explains / denominator)


def growth(aw: AppWindow, window: np.ndarray, baseline: np.ndarray) -> dict[str, Any]:
    """For a cost or token regression: whether inputs or outputs grew (and retrieved chunks),
    and which model, prompt version or parameter values changed their traffic share.
    ``window`` and ``baseline`` are masks over the app's traces (the named segment's)."""

    def mean(column: str, mask: np.ndarray) -> float | None:
        values = aw.columns[column][mask]
        values = values[~np.isnan(values)]
        return float(values.mean()) if len(values) else None

    sizes = {c: [mean(c, baseline), mean(c, window)] for c in ("tokens_in", "tokens_out", "chunks")}
    growths = {
        c: (w / b - 1.0) if b and w is not None else 0.0
        for c, (b, w) in sizes.items()
        if c != "chunks"
    }
    grew = "inputs" if growths["tokens_in"] >= growths["tokens_out"] else "outputs"
    changed = []
    watched = [k for k in aw.dims if k in DIMENSION_COLUMNS or k.startswith(("param.", "prompt"))]
    for key in watched:
        col = aw.dims[key]
        for value in np.unique(col[window | baseline]):
            before = float((col[baseline] == value).mean()) if baseline.any() else 0.0
            after = float((col[window] == value).mean()) if window.any() else 0.0
            if abs(after - before) >= MIX_CHANGE and value != NONE:
                changed.append({"key": key, "value": str(value), "before": before, "after": after})
    return {"grew": grew, "sizes": sizes, "changed": changed}
