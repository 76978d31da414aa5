"""What the YAML configuration files (SLOs, alert destinations) share: reading one with a
clear error, and refusing repeated names."""

from __future__ import annotations

from pathlib import Path

import yaml

from vigil.errors import VigilError


def read(path: Path, what: str, setting: str) -> object:
    """The parsed file; a missing file or bad YAML is one line naming the file and the fix."""
    try:
        return yaml.safe_load(path.read_text())
    except OSError as err:
        raise VigilError(f"{path}: cannot read the {what} ({err.strerror}); check the path "
                         f"or {setting}") from err  # fmt: skip
    except yaml.YAMLError as err:
        raise VigilError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from err


def unique(names: list[str], what: str) -> None:
    """Raise (inside a pydantic validator) when a name is used twice."""
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{what} names must be unique; repeated: {', '.join(twice)}")
