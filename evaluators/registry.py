"""Where evaluators are found: built-ins register with ``@register``; third-party packages
through the ``vigil.evaluators`` entry-point group (the entry point names an Evaluator class).
A family of parameterised evaluators, named ``<family>:<parameter>`` (``judge:coherence``),
registers a class factory and its parameters with :func:`register_family`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import entry_points

from evaluators.base import Evaluator, Resources
from vigil.errors import VigilError

_BUILTIN: dict[str, type[Evaluator]] = {}
_FAMILIES: dict[str, tuple[Callable[[str], type[Evaluator]], tuple[str, ...]]] = {}
ENTRY_POINT_GROUP = "vigil.evaluators"
# What scheduled runs and backfills score when no evaluator is named: the local RAG triad,
# the retrieval checks, the safety checks and the operational measures. Reference and
# golden-set metrics (datasets) and judge evaluators (a configured LLM) are chosen by name.
DEFAULT_EVALUATORS = (
    "answer_relevance",
    "context_relevance",
    "groundedness",
    "retrieval_agreement",
    "stale_context",
    "retrieval_confidence",
    "prompt_injection",
    "pii_leak",
    "latency_ms",
    "tokens",
    "cost_usd",
)


def register(cls: type[Evaluator]) -> type[Evaluator]:
    """Class decorator adding a built-in evaluator under its ``name``."""
    if cls.name in _BUILTIN and _BUILTIN[cls.name] is not cls:
        raise ValueError(f"two evaluators are named {cls.name!r}")
    _BUILTIN[cls.name] = cls
    return cls


def register_family(
    family: str, factory: Callable[[str], type[Evaluator]], parameters: Iterable[str]
) -> None:
    """Add the evaluators ``<family>:<parameter>``; ``factory(parameter)`` returns the class
    (its ``name`` is ``<family>:<parameter>``)."""
    if family in _FAMILIES and _FAMILIES[family][0] is not factory:
        raise ValueError(f"two evaluator families are named {family!r}")
    _FAMILIES[family] = (factory, tuple(parameters))


def available() -> dict[str, type[Evaluator]]:
    """Built-ins, parameterised families and plugins by name (a plugin cannot shadow a
    built-in)."""
    import evaluators.builtin  # noqa: F401  (registers the built-ins)

    found = dict(_BUILTIN)
    for family, (factory, parameters) in _FAMILIES.items():
        found.update({f"{family}:{p}": factory(p) for p in parameters})
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found:
            found[ep.name] = ep.load()
    return found


def build(names: list[str] | tuple[str, ...], resources: Resources) -> list[Evaluator]:
    """Evaluators by name. ``name@version`` also checks that the installed evaluator is at
    that version (a backfill for one version must not score with another)."""
    known = available()
    wanted = [name.partition("@")[::2] for name in names]
    unknown = [n for n, _ in wanted if n not in known]
    if unknown:
        raise VigilError(
            f"Unknown evaluator(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )
    built = [known[n](resources) for n, _ in wanted]
    wrong = [f"{e.name}@{v} (installed: {e.version})"
             for e, (_, v) in zip(built, wanted, strict=True) if v and v != e.version]  # fmt: skip
    if wrong:
        raise VigilError(
            f"Evaluator version not installed: {', '.join(wrong)}. Runs score with the "
            "installed version; scores of other versions stay stored. Install the version you "
            "need, or leave out @VERSION."
        )
    return built
