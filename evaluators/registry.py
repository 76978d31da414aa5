"""Where evaluators are found: built-ins register with ``@register``; third-party packages
through the ``vigil.evaluators`` entry-point group; a deployment through
``VIGIL_EXTRA_EVALUATORS`` (``module:attribute`` paths, passed in as ``extra``). An entry
point or a path names an Evaluator class or a TruLens feedback (``trulens.core.Feedback``),
which runs as an evaluator (:mod:`evaluators.trulens_feedback`). A family of parameterised
evaluators, named ``<family>:<parameter>`` (``judge:coherence``), registers a class factory
and its parameters with :func:`register_family`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import entry_points
from typing import Any

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


def available(extra: Sequence[str] = ()) -> dict[str, type[Evaluator]]:
    """Built-ins, parameterised families, plugins (a plugin cannot shadow a built-in) and the
    ``extra`` paths of VIGIL_EXTRA_EVALUATORS (which must not take a name already used)."""
    import evaluators.builtin  # noqa: F401  (registers the built-ins)

    found = dict(_BUILTIN)
    for family, (factory, parameters) in _FAMILIES.items():
        found.update({f"{family}:{p}": factory(p) for p in parameters})
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found:
            found[ep.name] = as_evaluator(ep.load(), f"entry point {ep.name!r}")
    for path in extra:
        cls = as_evaluator(load_path(path), path)
        if cls.name in found:
            raise VigilError(
                f"VIGIL_EXTRA_EVALUATORS: {path} is named {cls.name!r}, which another evaluator "
                "has; name it otherwise (a Feedback takes name='...')."
            )
        found[cls.name] = cls
    return found


def load_path(path: str) -> Any:
    """The object a ``module:attribute`` path names (the attribute may be dotted)."""
    module_name, _, attribute = path.strip().partition(":")
    if not module_name or not attribute:
        raise VigilError(
            f"VIGIL_EXTRA_EVALUATORS: {path!r} is not module:attribute, e.g. "
            "mypkg.feedbacks:groundedness_gpt"
        )
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise VigilError(
            f"VIGIL_EXTRA_EVALUATORS: cannot import {module_name!r} ({err}); install its package "
            "where Vigil runs, or put its folder on PYTHONPATH"
        ) from err
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise VigilError(f"VIGIL_EXTRA_EVALUATORS: {module_name} has no {attribute!r}")
        found = getattr(found, part)
    return found


def as_evaluator(obj: Any, source: str) -> type[Evaluator]:
    """An Evaluator class as it is, or a TruLens feedback wrapped as one."""
    if isinstance(obj, type) and issubclass(obj, Evaluator):
        return obj
    from trulens.core.metric.metric import Metric

    if isinstance(obj, Metric):
        from evaluators.trulens_feedback import feedback_evaluator

        return feedback_evaluator(obj)
    raise VigilError(
        f"{source} is a {type(obj).__name__}: give an Evaluator class or a TruLens Feedback"
    )


def build(
    names: list[str] | tuple[str, ...], resources: Resources, extra: Sequence[str] = ()
) -> list[Evaluator]:
    """Evaluators by name (``extra``: see :func:`available`). ``name@version`` also checks
    that the installed evaluator is at that version (a backfill for one version must not
    score with another)."""
    known = available(extra)
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
