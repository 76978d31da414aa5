"""Where evaluators are found: built-ins register with ``@register``; third-party packages
through the ``vigil.evaluators`` entry-point group (the entry point names an Evaluator class).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from evaluators.base import Evaluator, Resources
from vigil.errors import VigilError

_BUILTIN: dict[str, type[Evaluator]] = {}
ENTRY_POINT_GROUP = "vigil.evaluators"
DEFAULT_EVALUATORS = ("answer_relevance", "groundedness", "retrieval_agreement")


def register(cls: type[Evaluator]) -> type[Evaluator]:
    """Class decorator adding a built-in evaluator under its ``name``."""
    if cls.name in _BUILTIN and _BUILTIN[cls.name] is not cls:
        raise ValueError(f"two evaluators are named {cls.name!r}")
    _BUILTIN[cls.name] = cls
    return cls


def available() -> dict[str, type[Evaluator]]:
    """Built-ins and plugins by name (a plugin cannot shadow a built-in)."""
    import evaluators.builtin  # noqa: F401  (registers the built-ins)

    found = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found:
            found[ep.name] = ep.load()
    return found


def build(names: list[str] | tuple[str, ...], resources: Resources) -> list[Evaluator]:
    known = available()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise VigilError(
            f"Unknown evaluator(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )
    return [known[n](resources) for n in names]
