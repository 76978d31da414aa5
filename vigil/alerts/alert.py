"""What an alert says, whatever its destination: built from a regression, an SLO burn or a
canary verdict, stored with its notice, and rendered per destination when it is sent."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from vigil.alerts.config import Severity

Action = Literal["trigger", "resolve"]


class Alert(BaseModel):
    kind: Literal["regression", "slo", "canary", "test"]
    key: str  # stable per thing that fires: PagerDuty's dedup_key
    action: Action = "trigger"
    severity: Severity = "error"
    app: str
    title: str  # one line, what went wrong
    metric: str = ""
    segment: dict[str, str] = Field(default_factory=dict)
    attribution: list[str] = Field(default_factory=list)  # "model=gpt-4o explains 92% ..."
    before: float | None = None
    after: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)  # counts, q-values, windows
    links: dict[str, str] = Field(default_factory=dict)  # label -> URL

    @property
    def segment_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.segment.items()) or "whole app"

    def summary(self) -> str:
        """The one line a pager shows (PagerDuty keeps 1,024 characters)."""
        prefix = "RESOLVED: " if self.action == "resolve" else ""
        change = ""
        if self.before is not None and self.after is not None:
            change = f" ({_num(self.before)} -> {_num(self.after)})"
        return f"{prefix}[{self.app}] {self.title}{change}"[:1024]

    def resolved(self) -> Alert:
        return self.model_copy(update={"action": "resolve"})


def _num(value: float) -> str:
    return f"{value:.4g}"
