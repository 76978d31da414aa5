"""Service level objectives on answer quality, cost and latency, read from a YAML file.

An SLO counts good events: a trace whose evaluator score passes a threshold, or whose
measure (latency, cost, tokens) stays within a bound. Its target is the share of good
events over its window, e.g. "99% of support-bot's answers have groundedness >= 0.8 over
7 days", or "95% of requests under 4 s over 1 day" (a p95 under 4 s). The error budget is
``1 - target``; the burn rate of a window is its bad share over the budget. Alerts follow
the SRE workbook's multiwindow, multi-burn-rate rule: a pair fires when both its long and
its short window burn at least its factor (1 h and 5 min at 14.4, 6 h and 30 min at 6).

    slos:
      - name: grounded-answers
        app: support-bot
        segment: {route: billing}          # optional
        sli: {evaluator: groundedness, threshold: 0.8}
        target: 0.99
        window: 7d
      - name: fast-answers
        app: support-bot
        sli: {measure: latency_ms, bound: 4000}
        target: 0.95
        window: 1d
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from vigil import yaml_file
from vigil.errors import VigilError

MEASURES = ("latency_ms", "cost_usd", "tokens_in", "tokens_out")
_DURATION = re.compile(r"^(\d+)\s*(m|h|d)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """``30m``, ``6h``, ``7d`` as a timedelta."""
    found = _DURATION.match(str(text).strip())
    if not found:
        raise ValueError(f"{text!r} is not a duration such as 30m, 6h or 7d")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoreSLI(_Strict):
    """Good: the evaluator scored the trace at or above ``threshold`` (``above``: strictly)."""

    evaluator: str
    threshold: Annotated[float, Field(ge=0.0, le=1.0)]
    strictly: bool = False


class MeasureSLI(_Strict):
    """Good: the trace's measure is below ``bound`` (latency in ms, cost in USD, tokens)."""

    measure: Literal["latency_ms", "cost_usd", "tokens_in", "tokens_out"]
    bound: Annotated[float, Field(gt=0.0)]


class SLO(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    app: Annotated[str, Field(min_length=1)]
    segment: dict[str, str] = Field(default_factory=dict)
    sli: ScoreSLI | MeasureSLI
    target: Annotated[float, Field(gt=0.0, lt=1.0)]
    window: str = "7d"

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        duration(value)
        return value

    @property
    def period(self) -> timedelta:
        return duration(self.window)

    @property
    def budget(self) -> float:
        return 1.0 - self.target

    def describe(self) -> str:
        if isinstance(self.sli, ScoreSLI):
            op = ">" if self.sli.strictly else ">="
            good = f"{self.sli.evaluator} {op} {self.sli.threshold:g}"
        else:
            good = f"{self.sli.measure} < {self.sli.bound:g}"
        where = "".join(f", {k}={v}" for k, v in self.segment.items())
        return f"{self.target:.4g} of {self.app}{where} with {good} over {self.window}"


class BurnPair(_Strict):
    long: str
    short: str
    factor: Annotated[float, Field(gt=0.0)]
    severity: Literal["page", "ticket"] = "page"

    @field_validator("long", "short")
    @classmethod
    def _duration(cls, value: str) -> str:
        duration(value)
        return value


DEFAULT_BURNS = (
    BurnPair(long="1h", short="5m", factor=14.4, severity="page"),
    BurnPair(long="6h", short="30m", factor=6.0, severity="page"),
)


class SLOFile(_Strict):
    slos: list[SLO]
    burn_alerts: list[BurnPair] = Field(default_factory=lambda: list(DEFAULT_BURNS))

    @field_validator("slos")
    @classmethod
    def _unique(cls, slos: list[SLO]) -> list[SLO]:
        yaml_file.unique([s.name for s in slos], "SLO")
        return slos


def load(path: str | Path, evaluators: set[str] | None = None,
         apps: set[str] | None = None) -> SLOFile:  # fmt: skip
    """The SLO file, validated; with ``evaluators`` and ``apps``, their names too. Every
    problem is one line naming the file, the SLO and the field."""
    path = Path(path)
    raw = yaml_file.read(path, "SLO file", "VIGIL_SLO_FILE")
    try:
        parsed = SLOFile.model_validate(raw)
    except ValidationError as err:
        raise VigilError("; ".join(_where(path, raw, e) for e in err.errors())) from err
    for slo in parsed.slos:
        sli = slo.sli
        if evaluators is not None and isinstance(sli, ScoreSLI) and sli.evaluator not in evaluators:
            raise VigilError(f"{path}: SLO {slo.name!r}: sli.evaluator: unknown evaluator "
                             f"{sli.evaluator!r}; `vigil evaluators` lists them")  # fmt: skip
        if apps is not None and slo.app not in apps:
            known = ", ".join(sorted(apps)) or "none yet"
            raise VigilError(f"{path}: SLO {slo.name!r}: app: no traces of app {slo.app!r} "
                             f"(apps with traces: {known})")  # fmt: skip
    return parsed


def _where(path: Path, raw: object, error: ErrorDetails) -> str:
    loc = list(error["loc"])
    name = ""
    if len(loc) >= 2 and loc[0] == "slos" and isinstance(loc[1], int):
        slos = raw.get("slos") if isinstance(raw, dict) else None
        entry = slos[loc[1]] if isinstance(slos, list) and loc[1] < len(slos) else None
        label = entry.get("name") if isinstance(entry, dict) else None
        name = f"SLO {label!r}: " if label else f"SLO #{loc[1] + 1}: "
        loc = loc[2:]
    field = ".".join(str(x) for x in loc if not str(x).endswith("SLI")) or "(file)"
    return f"{path}: {name}{field}: {error['msg']}"


@dataclass(frozen=True)
class Burn:
    pair: BurnPair
    long_rate: float | None  # None: no events in the window
    short_rate: float | None

    @property
    def firing(self) -> bool:
        rates = (self.long_rate, self.short_rate)
        return all(r is not None and r >= self.pair.factor for r in rates)


def burn_rate(slo: SLO, good: int, total: int) -> float | None:
    """How fast the window spends the budget: its bad share over ``1 - target``."""
    if total == 0:
        return None
    return ((total - good) / total) / slo.budget


def budget_left(slo: SLO, good: int, total: int) -> float | None:
    """The share of the window's error budget not spent yet (negative: overspent)."""
    rate = burn_rate(slo, good, total)
    return None if rate is None else 1.0 - rate
