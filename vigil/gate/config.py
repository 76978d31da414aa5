"""The CI gate's configuration: which evaluators score the candidate and which rules it
must pass, read from a YAML file (``vigil gate --config``) and validated with pydantic.

    evaluators: [groundedness@1, answer_relevance, "judge:groundedness"]
    rules:
      - metric: groundedness
        max_drop: 0.02              # fails only when confidently worse than the baseline
        min: 0.6                    # and the candidate's mean stays above a floor
      - metric: "judge:groundedness"
        not_below_baseline: true    # McNemar's exact test on items passing at >= 0.7
        item_threshold: 0.7
    noise: {margin: 0.1, rejudge: 2}

Every problem is one line naming the file, the rule and the field, like the SLO file's.
``infra/gate.example.yaml`` is a commented example.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from vigil import yaml_file
from vigil.errors import VigilError

PASS_AT = re.compile(r"^pass@([1-9][0-9]*)$")
CODE_TESTS = "code_tests"  # the evaluator whose per-sample verdicts pass@k counts
DEFAULT_EVALUATORS = ("groundedness", "answer_relevance", "context_relevance")
DEFAULT_MAX_DROP = 0.02


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoiseConfig(_Strict):
    """How a non-deterministic (LLM judge) score near its threshold is judged again.

    A score within ``margin`` of a rule's ``item_threshold`` gets ``rejudge`` more
    judgements; the majority verdict counts, and disagreeing verdicts mark the item flaky
    (a flaky item alone never fails the gate, see :func:`vigil.gate.rules.evaluate_rule`).
    """

    margin: Annotated[float, Field(ge=0.0)] = 0.1
    rejudge: Annotated[int, Field(ge=0, le=20)] = 2

    def near(self, value: float, threshold: float) -> bool:
        """Whether a judge's score is close enough to ``threshold`` to be judged again."""
        return self.rejudge > 0 and abs(value - threshold) <= self.margin


class Rule(_Strict):
    """One check on one metric; it fails when any of its checks fails.

    ``max_drop`` fails only when the upper bound of the paired bootstrap interval of
    ``mean(candidate - baseline)`` is below ``-max_drop``: we are confident the drop exceeds
    the tolerance. A noisy, inconclusive drop passes, so judge noise never blocks a merge;
    a larger dataset narrows the interval and catches smaller drops.

    ``not_below_baseline`` is for pass/fail metrics: an item passes at ``item_threshold``
    or above, and McNemar's exact test on the items whose verdict changed fails the rule
    when the candidate passes fewer items with a one-sided p below ``1 - confidence``
    (one-sided: only "the candidate is worse" should block). ``strict`` fails any drop.
    ``min`` is a floor on the candidate's mean, which needs no baseline.
    """

    metric: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    max_drop: Annotated[float, Field(ge=0.0)] | None = None
    min: float | None = None
    not_below_baseline: bool = False
    strict: bool = False
    item_threshold: float = 0.5

    @model_validator(mode="after")
    def _checks(self) -> Rule:
        if self.max_drop is None and self.min is None and not self.not_below_baseline:
            raise ValueError("a rule needs a check: set max_drop, min or not_below_baseline")
        if self.strict and not self.not_below_baseline:
            raise ValueError("strict applies to not_below_baseline; set not_below_baseline: true")
        return self

    @property
    def k(self) -> int | None:
        """``k`` of a ``pass@k`` metric, else None."""
        found = PASS_AT.match(self.metric)
        return int(found.group(1)) if found else None

    @property
    def title(self) -> str:
        """The rule's name, or one generated from its metric and checks."""
        if self.name:
            return self.name
        parts = []
        if self.max_drop is not None:
            parts.append(f"must not drop by more than {self.max_drop:g}")
        if self.min is not None:
            parts.append(f"must stay at or above {self.min:g}")
        if self.not_below_baseline:
            strict = " (strict)" if self.strict else ""
            parts.append(f"must not pass fewer items than the baseline{strict}")
        return f"{self.metric} {' and '.join(parts)}"


def split_evaluator(spec: str) -> tuple[str, str | None]:
    """``name@version`` as (name, version); a bare name is not pinned (version None)."""
    name, at, version = spec.partition("@")
    return name, (version if at else None)


class GateConfig(_Strict):
    """The whole gate: evaluators (optionally pinned ``name@version``), rules, statistics
    and how the candidate is called."""

    evaluators: Annotated[list[str], Field(min_length=1)]
    rules: Annotated[list[Rule], Field(min_length=1)]
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(ge=100, le=1_000_000)] = 2000
    seed: Annotated[int, Field(ge=0)] = 0
    concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    timeout_s: Annotated[float, Field(gt=0.0)] = 60.0
    samples: Annotated[int, Field(ge=1, le=1000)] = 1
    noise: NoiseConfig = NoiseConfig()
    max_error_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    worst_items: Annotated[int, Field(ge=0, le=100)] = 5

    @field_validator("evaluators")
    @classmethod
    def _evaluators(cls, specs: list[str]) -> list[str]:
        for spec in specs:
            name, version = split_evaluator(spec)
            if not name or version == "" or not spec.strip() == spec:
                raise ValueError(f"{spec!r}: write a name, or name@version to pin one")
        yaml_file.unique([split_evaluator(s)[0] for s in specs], "evaluator")
        return specs

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[Rule]) -> list[Rule]:
        yaml_file.unique([r.title for r in rules], "rule")
        return rules

    @model_validator(mode="after")
    def _metrics_are_scored(self) -> GateConfig:
        names = set(self.pinned)
        for index, rule in enumerate(self.rules):
            where = f"rule #{index + 1} ({rule.name or rule.metric!r}): metric"
            if rule.k is not None:
                if CODE_TESTS not in names:
                    raise ValueError(
                        f"{where}: {rule.metric} counts {CODE_TESTS} verdicts; "
                        f"add {CODE_TESTS} to evaluators"
                    )
                if rule.k > self.samples:
                    raise ValueError(
                        f"{where}: {rule.metric} needs {rule.k} samples per item;"
                        f" set samples: {rule.k} or more"
                    )
            elif rule.metric not in names:
                raise ValueError(
                    f"{where}: no listed evaluator scores {rule.metric!r}; add it "
                    f"to evaluators ({', '.join(sorted(names))})"
                )
        return self

    @property
    def pinned(self) -> dict[str, str | None]:
        """Evaluator name -> pinned version (None: whatever version is installed)."""
        return dict(split_evaluator(spec) for spec in self.evaluators)


def default_config(evaluators: Sequence[str] = DEFAULT_EVALUATORS) -> GateConfig:
    """The gate without a file: each evaluator must not drop by more than 0.02."""
    return GateConfig(
        evaluators=list(evaluators),
        rules=[Rule(metric=split_evaluator(e)[0], max_drop=DEFAULT_MAX_DROP) for e in evaluators],
    )


def load_gate_config(
    path: str | Path | None, *, default_evaluators: Sequence[str] = DEFAULT_EVALUATORS
) -> GateConfig:
    """The gate file, validated; without one, :func:`default_config` of
    ``default_evaluators`` (the caller may pass the evaluators that fit its dataset)."""
    if path is None:
        try:
            return default_config(default_evaluators)
        except ValidationError as err:
            raise VigilError("default gate: " + "; ".join(_msg(e) for e in err.errors())) from err
    path = Path(path)
    raw = yaml_file.read(path, "gate config", "the --config option")
    try:
        return GateConfig.model_validate(raw)
    except ValidationError as err:
        raise VigilError("; ".join(_where(path, raw, e) for e in err.errors())) from err


def config_hash(config: GateConfig) -> str:
    """sha256 of the canonical JSON, so a run records exactly which configuration it used."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _msg(error: ErrorDetails) -> str:
    msg = error["msg"]
    return msg.removeprefix("Value error, ")


def _where(path: Path, raw: object, error: ErrorDetails) -> str:
    loc = list(error["loc"])
    label = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules") if isinstance(raw, dict) else None
        entry = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = (entry.get("name") or entry.get("metric")) if isinstance(entry, dict) else None
        label = f"rule #{loc[1] + 1} ({name!r}): " if name else f"rule #{loc[1] + 1}: "
        loc = loc[2:]
    field = ".".join(str(x) for x in loc)
    # Without a field: a check on a whole rule, or a cross-field one that names its rule.
    return f"{path}: {label}{field + ': ' if field else ''}{_msg(error)}"
