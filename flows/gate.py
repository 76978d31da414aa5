"""``vigil gate``'s work, as plain functions: score a candidate on a golden dataset version,
compare it item by item with a baseline run, apply the rules, store the run.

Exit codes belong to the caller: a :class:`GateCannotRun` means "could not run" (2); a
finished run has the verdict pass (0) or fail (1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluators.registry import build
from flows.gate_candidate import Output, call_entry_point, load_entry_point, read_outputs
from flows.gate_scoring import CODE_METRIC, Progress, Scored, score_outputs
from flows.resources import build_resources
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.gate.config import GateConfig, Rule, config_hash, default_config
from vigil.gate.report import GateSummary, worst_items
from vigil.gate.rules import ItemScore, RuleResult, error_rule, evaluate_rule, verdict
from vigil.gate.runfile import Baseline, load
from vigil.golden import GoldenItem
from vigil.settings import Settings
from vigil.store import datasets
from vigil.store import gate as store


class GateCannotRun(VigilError):
    """The gate could not run (exit code 2): a missing dataset or baseline, a candidate that
    cannot be imported, evaluator versions that differ from the baseline's."""


@dataclass(frozen=True)
class GateRequest:
    dataset: str  # NAME or NAME@VERSION
    candidate: str  # module:function, or a .jsonl of outputs
    baseline: str = "last-passing"  # last-passing | none | RUN_ID | path to a gate-run file
    config: GateConfig | None = None  # None: a default fitting the dataset's items
    by: str = "vigil"
    git_sha: str | None = None
    ui_url: str | None = None


@dataclass(frozen=True)
class GateOutcome:
    summary: GateSummary
    run_id: int
    record: Baseline  # this run, as a later run's baseline (--write-run)
    config: GateConfig


def config_for(items: list[GoldenItem]) -> GateConfig:
    """The gate without a config file: pass@1 not below the baseline's for code items; the
    local RAG triad must not drop by more than 0.02 otherwise."""
    if all(i.kind == "code" for i in items):
        return GateConfig(evaluators=[CODE_METRIC],
                          rules=[Rule(metric="pass@1", not_below_baseline=True)])  # fmt: skip
    return default_config(["groundedness", "answer_relevance", "context_relevance"])


def run_gate(conn: Conn, settings: Settings, request: GateRequest,
             progress: Progress | None = None) -> GateOutcome:  # fmt: skip
    started = datetime.now(UTC)
    try:
        version = datasets.resolve(conn, request.dataset)
    except VigilError as err:
        raise GateCannotRun(str(err)) from err
    items = datasets.items(conn, version.id)
    config = request.config or config_for(items)
    evaluators = _evaluators(conn, settings, config)
    baseline = _baseline(conn, request.baseline, version.id)
    _check_versions(_versions(evaluators, config), baseline, config)  # before any call
    outputs = _outputs(request.candidate, items, config, progress)
    scored = score_outputs(evaluators, items, outputs, config, progress)
    _require_scores(config, scored, outputs)
    results = _rules(config, scored, baseline)
    errors = _errors(config, scored, outputs)
    errored_items = len({key for key, _ in errors})
    results.append(error_rule(errored_items, len(items), config))
    outcome = verdict(results)
    record = store.RunRecord(
        dataset_version_id=version.id, candidate=request.candidate,
        config=config.model_dump(mode="json"), config_hash=config_hash(config),
        evaluators=scored.versions, baseline_run_id=baseline.run_id if baseline else None,
        baseline=baseline.description if baseline else None, verdict=outcome,
        rules=[dataclasses.asdict(r) for r in results], items=len(items),
        errors=errored_items, git_sha=request.git_sha, started_at=started, created_by=request.by,
    )  # fmt: skip
    run_id = store.save_run(conn, record, _output_rows(outputs), _score_rows(scored))
    link = _linker(request.ui_url, run_id)
    compared = {r.metric for r in config.rules}
    summary = GateSummary(
        dataset=version.dataset, dataset_version=version.version, run_id=run_id,
        candidate=request.candidate, baseline=baseline.description if baseline else None,
        verdict=outcome, rules=tuple(results),
        errors=tuple(errors),
        worst=worst_items({m: _pairs(scored, baseline, m) for m in compared},
                          config.worst_items, link),
        flaky=tuple((key, metric, m.votes) for metric in sorted(compared)
                    for key, m in sorted(scored.metrics.get(metric, {}).items()) if m.flaky),
        evaluators=dict(scored.versions), items=len(items),
    )  # fmt: skip
    this_run = Baseline(
        description=f"run #{run_id}", scores={m: scored.values(m) for m in scored.metrics},
        versions=dict(scored.versions), run_id=run_id, dataset=version.dataset,
        content_hash=version.content_hash,
    )  # fmt: skip
    return GateOutcome(summary, run_id, this_run, config)


def _evaluators(conn: Conn, settings: Settings, config: GateConfig) -> list[Any]:
    try:
        return build(
            config.evaluators, build_resources(settings, conn), settings.extra_evaluator_paths
        )
    except VigilError as err:
        raise GateCannotRun(f"the gate's evaluators: {err}") from err


def _outputs(target: str, items: list[GoldenItem], config: GateConfig,
             progress: Progress | None) -> list[Output]:  # fmt: skip
    def step(done: int, total: int) -> None:
        if progress:
            progress("calling the candidate", done, total)

    try:
        if target.endswith((".jsonl", ".jsonl.gz")):
            return read_outputs(Path(target), items, config.samples)
        fn = load_entry_point(target)
    except VigilError as err:
        raise GateCannotRun(str(err)) from err
    return call_entry_point(fn, items, samples=config.samples, concurrency=config.concurrency,
                            timeout_s=config.timeout_s, progress=step)  # fmt: skip


def _baseline(conn: Conn, spec: str, version_id: int) -> Baseline | None:
    """The run to compare with: ``last-passing`` on this dataset version (None when there is
    none yet: the first run), ``none``, a run id, or a gate-run file."""
    if spec == "none":
        return None
    if spec == "last-passing":
        run_id = store.last_passing(conn, version_id)
        return None if run_id is None else _stored(conn, run_id, "(last passing)")
    if spec.isdigit():
        try:
            return _stored(conn, int(spec), "")
        except VigilError as err:
            raise GateCannotRun(str(err)) from err
    path = Path(spec)
    if not path.exists():
        raise GateCannotRun(f"--baseline {spec!r}: not a run id, 'last-passing', 'none' or "
                            "an existing gate-run file")  # fmt: skip
    try:
        return load(path)
    except VigilError as err:
        raise GateCannotRun(str(err)) from err


def _stored(conn: Conn, run_id: int, note: str) -> Baseline:
    row = store.run(conn, run_id)
    values: dict[str, dict[str, float | None]] = {}
    versions: dict[str, str] = {}
    for s in store.scores(conn, run_id):
        values.setdefault(s.metric, {})[s.item_key] = s.value
        versions[s.metric] = s.version
    return Baseline(
        description=f"run #{run_id} {note}".strip(), scores=values, versions=versions,
        run_id=run_id, dataset=row["dataset"], content_hash=row["content_hash"],
    )  # fmt: skip


def _versions(evaluators: list[Any], config: GateConfig) -> dict[str, str]:
    """The version behind each metric: an evaluator's own, pass@k's that of code_tests."""
    versions = {e.name: e.version for e in evaluators}
    for rule in config.rules:
        if rule.metric.startswith("pass@") and CODE_METRIC in versions:
            versions[rule.metric] = versions[CODE_METRIC]
    return versions


def _check_versions(versions: dict[str, str], baseline: Baseline | None,
                    config: GateConfig) -> None:  # fmt: skip
    """Scores of different evaluator versions are not comparable: refuse, naming both."""
    if baseline is None:
        return
    differ = [f"{m}: baseline {baseline.versions[m]}, this run {versions[m]}"
              for m in sorted({r.metric for r in config.rules})
              if m in baseline.versions and m in versions
              and baseline.versions[m] != versions[m]]  # fmt: skip
    if differ:
        raise GateCannotRun(
            "the baseline was scored by other evaluator versions (" + "; ".join(differ) + "). "
            "Pin the versions in the gate config, or start a new baseline with --baseline none."
        )


def _require_scores(config: GateConfig, scored: Scored, outputs: list[Output]) -> None:
    """A rule whose metric scored no item, while the candidate answered some, cannot be
    decided (no judge configured, an evaluator that needs what the items lack): refuse
    rather than pass on nothing."""
    if all(o.error is not None for o in outputs):
        return  # nothing answered: the errors rule fails the run
    for metric in sorted({r.metric for r in config.rules}):
        results = scored.metrics.get(metric, {}).values()
        if results and all(m.value is None for m in results):
            why = next((m.explanation for m in results if m.explanation), "no reason given")
            raise GateCannotRun(f"no item was scored on {metric} ({why}); a rule on it "
                                "cannot be decided. Fix that, or drop the rule.")  # fmt: skip


def _errors(config: GateConfig, scored: Scored, outputs: list[Output]) -> list[tuple[str, str]]:
    """Items that could not be judged: the candidate failed on them, or an evaluator a rule
    reads failed (a judge's error is not a low score, but neither may it pass unseen)."""
    errors = [(o.key, o.error) for o in outputs if o.error is not None]
    failed = {key for key, _ in errors}
    judged = {CODE_METRIC if r.metric.startswith("pass@") else r.metric for r in config.rules}
    for metric in sorted(judged):
        for key, m in sorted(scored.metrics.get(metric, {}).items()):
            if m.status == "error" and key not in failed:
                errors.append((key, f"{metric}: {m.explanation}"))
                failed.add(key)
    return errors


def _pairs(scored: Scored, baseline: Baseline | None, metric: str) -> list[ItemScore]:
    before = baseline.scores.get(metric, {}) if baseline else {}
    return [ItemScore(key, m.value, before.get(key), m.flaky)
            for key, m in sorted(scored.metrics.get(metric, {}).items())]  # fmt: skip


def _rules(config: GateConfig, scored: Scored, baseline: Baseline | None) -> list[RuleResult]:
    out = []
    for rule in config.rules:
        pairs = _pairs(scored, baseline, rule.metric)
        paired = any(p.baseline is not None and p.candidate is not None for p in pairs)
        if baseline is not None and not paired and any(p.candidate is not None for p in pairs):
            raise GateCannotRun(
                f"the baseline ({baseline.description}) has no {rule.metric} score for any "
                "item of this dataset version; is it a run on another dataset? "
                "Start a new baseline with --baseline none."
            )
        out.append(evaluate_rule(rule, pairs, config, has_baseline=baseline is not None))
    return out


def _output_rows(outputs: list[Output]) -> list[store.OutputRow]:
    return [store.OutputRow(o.key, o.sample, o.answer,
                            [r.model_dump(exclude_none=True) for r in o.contexts],
                            o.error, o.latency_ms) for o in outputs]  # fmt: skip


def _score_rows(scored: Scored) -> list[store.ScoreRow]:
    return [store.ScoreRow(key, metric, scored.versions[metric], m.value, m.status,
                           m.explanation, m.votes, m.flaky)
            for metric, per_item in scored.metrics.items()
            for key, m in per_item.items()]  # fmt: skip


def _linker(ui_url: str | None, run_id: int) -> Callable[[str], str | None]:
    from urllib.parse import quote

    def link(key: str) -> str | None:
        return f"{ui_url.rstrip('/')}/gate?run={run_id}&item={quote(key)}" if ui_url else None

    return link
