"""Alert destinations, from a YAML file (``VIGIL_ALERTS_FILE``), validated with pydantic.

A secret is never written in the file: ``${NAME}`` in any string is the environment
variable NAME, and an unset one is an error naming it. Every problem is one line naming
the file, the destination and the field, like the SLO file's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from vigil import yaml_file
from vigil.errors import VigilError

Kind = Literal["regression", "slo", "canary"]
KINDS: tuple[Kind, ...] = ("regression", "slo", "canary")
Severity = Literal["info", "warning", "error", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error", "critical")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class _Destination(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    events: list[Kind] = Field(default_factory=lambda: list(KINDS))
    apps: list[str] = Field(default_factory=list, description="Empty: every app.")
    min_severity: Severity = "info"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use lower-case letters, digits, '-', '_' or '.'")
        return value

    def wants(self, kind: str, app: str, severity: Severity) -> bool:
        """Whether an alert of this kind, app and severity goes here (tests go anywhere)."""
        if kind == "test":
            return True
        return (
            kind in self.events
            and (not self.apps or app in self.apps)
            and SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)
        )


def _http_url(value: str) -> str:
    """An absolute http(s) URL, checked here rather than refused at every send."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or value != value.strip():
        raise ValueError(f"{value!r} is not an http(s) URL like https://host/path")
    return value


Url = Annotated[str, AfterValidator(_http_url)]


class Webhook(_Destination):
    """Any HTTP endpoint that takes Vigil's JSON alert (docs/alerts.md has its shape)."""

    type: Literal["webhook"]
    url: Url
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _latin1(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not name.isascii() or not value.isascii() or "\n" in value or "\r" in value:
                raise ValueError(f"header {name!r}: use ASCII on one line")
        return headers


class Slack(_Destination):
    """A Slack incoming webhook; the message is Block Kit."""

    type: Literal["slack"]
    url: Url


class PagerDuty(_Destination):
    """PagerDuty Events API v2: a trigger per incident, a resolve when it ends."""

    type: Literal["pagerduty"]
    routing_key: Annotated[str, Field(min_length=1, pattern=r"^\S+$")]
    url: Url = PAGERDUTY_URL  # events.eu.pagerduty.com for EU accounts


Destination = Annotated[Webhook | Slack | PagerDuty, Field(discriminator="type")]


class AlertsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destinations: list[Destination]

    @field_validator("destinations")
    @classmethod
    def _unique(cls, dests: list[Destination]) -> list[Destination]:
        yaml_file.unique([d.name for d in dests], "destination")
        return dests

    def get(self, name: str) -> Destination:
        for dest in self.destinations:
            if dest.name == name:
                return dest
        known = ", ".join(d.name for d in self.destinations) or "none"
        raise VigilError(f"no alert destination {name!r}; the file has: {known}")


def load(path: str | Path, environ: dict[str, str] | None = None) -> AlertsFile:
    """The destinations file, validated, with ``${VAR}`` replaced from ``environ``."""
    path = Path(path)
    env = os.environ if environ is None else environ
    raw = yaml_file.read(path, "alerts file", "VIGIL_ALERTS_FILE")
    try:
        parsed = AlertsFile.model_validate(_expand(raw, env, path, raw))
    except ValidationError as err:
        raise VigilError("; ".join(_where(path, raw, e) for e in err.errors())) from err
    return parsed


def _expand(value: object, env: os._Environ[str] | dict[str, str], path: Path,
            raw: object, where: tuple[object, ...] = ()) -> object:  # fmt: skip
    if isinstance(value, dict):
        return {k: _expand(v, env, path, raw, (*where, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, path, raw, (*where, i)) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def var(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            at = _label(raw, list(where)) + ".".join(str(x) for x in where[2:])
            raise VigilError(f"{path}: {at}: environment variable {name} is not set; export "
                             "it (secrets stay out of the file)")  # fmt: skip
        return env[name]

    return _VAR.sub(var, value)


def _label(raw: object, loc: Sequence[object]) -> str:
    if len(loc) >= 2 and loc[0] == "destinations" and isinstance(loc[1], int):
        dests = raw.get("destinations") if isinstance(raw, dict) else None
        entry = dests[loc[1]] if isinstance(dests, list) and loc[1] < len(dests) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        return f"destination {name!r}: " if name else f"destination #{loc[1] + 1}: "
    return ""


def _where(path: Path, raw: object, error: ErrorDetails) -> str:
    loc = list(error["loc"])
    label = _label(raw, loc)
    rest = loc[2:] if label else loc
    kinds = ("webhook", "slack", "pagerduty")
    field = ".".join(str(x) for x in rest if x not in kinds) or "(file)"
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        field = "type"
    return f"{path}: {label}{field}: {error['msg']}"
