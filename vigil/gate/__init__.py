"""The CI quality gate's core: a candidate against a baseline on a golden dataset, item
by item. Configuration (:mod:`.config`), paired statistics (:mod:`.stats`), rules
(:mod:`.rules`) and reports (:mod:`.report`) are pure; calling the candidate, scoring and
storing the run is the runner's business (docs/gate.md)."""

from vigil.gate.config import (
    DEFAULT_EVALUATORS,
    GateConfig,
    NoiseConfig,
    Rule,
    config_hash,
    default_config,
    load_gate_config,
    split_evaluator,
)
from vigil.gate.report import (
    EXIT_CODES,
    MARKER,
    GateSummary,
    WorstItem,
    junit_xml,
    markdown,
    worst_items,
)
from vigil.gate.rules import ItemScore, RuleResult, error_rule, evaluate_rule, verdict
from vigil.gate.stats import Interval, McNemar, majority, mcnemar, paired_bootstrap, pass_at_k

__all__ = [
    "DEFAULT_EVALUATORS",
    "EXIT_CODES",
    "MARKER",
    "GateConfig",
    "GateSummary",
    "Interval",
    "ItemScore",
    "McNemar",
    "NoiseConfig",
    "Rule",
    "RuleResult",
    "WorstItem",
    "config_hash",
    "default_config",
    "error_rule",
    "evaluate_rule",
    "junit_xml",
    "load_gate_config",
    "majority",
    "markdown",
    "mcnemar",
    "paired_bootstrap",
    "pass_at_k",
    "split_evaluator",
    "verdict",
    "worst_items",
]
