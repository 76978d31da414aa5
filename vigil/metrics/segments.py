"""Which segment values get their own label, so that the number of series stays bounded.

Per app, at most ``MAX_KEYS`` keys (model and prompt version first, then the app's promoted
keys, then the keys most traces carry), and per key the ``max_values`` values with the most
traces over the last ``LOOKBACK_S``; any other value of a kept key is ``(other)``, and a
key that is not kept gets no segment series. The ranking is read again every
``RANK_EVERY_S``; the series of a value that left the top are removed (Prometheus sees them
end), so at any time a key has at most ``max_values + 1`` values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter, Histogram

OTHER = "(other)"
MAX_KEYS = 5  # segment keys per app that get series
LOOKBACK_S = 24 * 3600.0  # traffic the ranking counts
RANK_EVERY_S = 300.0  # how often the ranking is read again
COLUMNS = ("model", "prompt_version")  # trace columns sliced like segment keys

Family = Histogram | Counter


class SegmentLabels:
    """The current top values, and the label sets used so far (to remove them later)."""

    def __init__(self) -> None:
        self.top: dict[tuple[str, str], frozenset[str]] = {}  # (app, key) -> values
        self.keys: dict[str, tuple[str, ...]] = {}  # app -> kept keys
        self._used: dict[tuple[str, str], set[tuple[Family, tuple[str, ...]]]] = {}

    def rank(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Adopt a new ranking (rows of app, key, value; see
        :func:`vigil.store.metrics.top_segment_values`) and remove the series of values
        (and keys) that left it."""
        top: dict[tuple[str, str], set[str]] = {}
        for r in rows:
            top.setdefault((r["app"], r["key"]), set()).add(r["value"])
        self.top = {k: frozenset(v) for k, v in top.items()}
        keys: dict[str, list[str]] = {}
        for app, key in sorted(self.top):
            keys.setdefault(app, []).append(key)
        self.keys = {app: tuple(k) for app, k in keys.items()}
        for app_key, used in self._used.items():
            kept = self.top.get(app_key)
            for family, labels in list(used):
                value = labels[-1]
                if kept is None or (value != OTHER and value not in kept):
                    family.remove(*labels)
                    used.discard((family, labels))

    def of(self, app: str, trace: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The (key, label value) pairs of a trace row (model, prompt_version, segment)."""
        pairs = []
        segment = trace.get("segment") or {}
        for key in self.keys.get(app, ()):
            raw = trace.get(key) if key in COLUMNS else segment.get(key)
            if raw is None:
                continue
            value = str(raw)
            pairs.append((key, value if value in self.top[(app, key)] else OTHER))
        return pairs

    def child(self, family: Family, app: str, pair: tuple[str, str], *extra: str) -> Any:
        """``family``'s series for app, ``extra`` labels (the evaluator), then the segment
        key and value of ``pair``; remembered so that :meth:`rank` can remove it."""
        labels = (app, *extra, *pair)
        self._used.setdefault((app, pair[0]), set()).add((family, labels))
        return family.labels(*labels)
