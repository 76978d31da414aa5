"""What a gate run says: a Markdown summary for the pull request and JUnit XML for the CI's
test view. Both are built from one :class:`GateSummary`; the runner writes them and exits
with ``EXIT_CODES[summary.verdict]``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from vigil.gate.rules import ItemScore, RuleResult

Verdict = Literal["pass", "fail", "error"]
EXIT_CODES: dict[str, int] = {"pass": 0, "fail": 1, "error": 2}
MARKER = "<!-- vigil-gate -->"  # a workflow finds (and updates) its own comment by it
COMMENT_LIMIT = 65536  # GitHub's limit on a comment, in characters
MAX_ERRORS = 10
MAX_FLAKY = 20
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️", "skipped": "⏭️"}


@dataclass(frozen=True)
class WorstItem:
    """An item where the candidate did worst on a metric, with a link to look at it."""

    key: str
    metric: str
    candidate: float | None
    baseline: float | None
    link: str | None


@dataclass(frozen=True)
class GateSummary:
    """Everything a report shows about one gate run."""

    dataset: str
    dataset_version: int
    run_id: int | None
    candidate: str
    baseline: str | None  # e.g. "run #12 (last passing)", "file gate-run.json"; None: none
    verdict: Verdict
    rules: tuple[RuleResult, ...]
    errors: tuple[tuple[str, str], ...]  # (item key, message) where the candidate failed
    worst: tuple[WorstItem, ...]
    flaky: tuple[tuple[str, str, tuple[float, ...]], ...]  # (item key, metric, values)
    evaluators: dict[str, str]  # name -> version
    items: int
    message: str | None = None  # verdict "error": why the gate could not run


def worst_items(
    scores: Mapping[str, Sequence[ItemScore]],
    count: int,
    link: Callable[[str], str | None] | None = None,
) -> tuple[WorstItem, ...]:
    """The ``count`` items that fell most below the baseline, over every metric; an item
    without a baseline value ranks by its distance below 1 (a perfect score). Items without
    a candidate value are left out: the summary lists the candidate's errors apart."""
    ranked: list[tuple[float, str, str, ItemScore]] = []
    for metric, items in scores.items():
        for item in items:
            if item.candidate is None:
                continue
            reference = 1.0 if item.baseline is None else item.baseline
            drop = item.candidate - reference
            ranked.append((drop, metric, item.key, item))
    ranked.sort(key=lambda row: (row[0], row[1], row[2]))
    return tuple(
        WorstItem(item.key, metric, item.candidate, item.baseline, link(item.key) if link else None)
        for drop, metric, _, item in ranked[:count]
        if drop < 0
    )


def markdown(summary: GateSummary) -> str:
    """A pull-request comment: verdict, rule table, worst and flaky items, errors."""
    lines = [MARKER, _heading(summary), "", _subtitle(summary), ""]
    if summary.verdict == "error":
        lines += [f"The gate could not run: {_one_line(summary.message or 'unknown error')}", ""]
    if summary.rules:
        lines += _rule_table(summary.rules)
    lines += _worst(summary.worst) + _flaky(summary.flaky) + _errors(summary.errors)
    if summary.evaluators:
        pinned = ", ".join(_code(f"{n}@{v}") for n, v in sorted(summary.evaluators.items()))
        lines += [f"<sub>Evaluators: {pinned}</sub>", ""]
    return _cap("\n".join(lines).rstrip() + "\n")


def _heading(summary: GateSummary) -> str:
    return (
        f"## {_ICONS[summary.verdict]} Vigil gate: {summary.verdict} on "
        f"{_one_line(summary.dataset)} v{summary.dataset_version}"
    )


def _subtitle(summary: GateSummary) -> str:
    baseline = summary.baseline or "none (first run on this dataset version)"
    run = f", run #{summary.run_id}" if summary.run_id is not None else ""
    return (
        f"Candidate {_code(summary.candidate)} against baseline {_one_line(baseline)}: "
        f"{summary.items} items{run}."
    )


def _rule_table(rules: Sequence[RuleResult]) -> list[str]:
    lines = [
        "| rule | candidate | baseline | diff (CI) | p (worse) | status |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rules:
        diff = ""
        if r.interval is not None:
            i = r.interval
            diff = f"{i.mean_diff:+.3f} ({i.low:+.3f} to {i.high:+.3f})"
        p = f"{r.mcnemar.p_worse:.3g}" if r.mcnemar is not None else ""
        status = f"{_ICONS[r.status]} {r.status}" + (" (only flaky items)" if r.only_flaky else "")
        cells = [r.name, _num(r.candidate_mean), _num(r.baseline_mean), diff, p, status]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("")
    notes = [r for r in rules if r.status != "pass" or r.only_flaky]
    lines += [f"- **{_one_line(r.name)}**: {_one_line(r.message)}" for r in notes]
    return [*lines, ""] if notes else lines


def _worst(worst: Sequence[WorstItem]) -> list[str]:
    if not worst:
        return []
    lines = [
        "### Worst items",
        "",
        "| item | metric | candidate | baseline |",
        "| --- | --- | --- | --- |",
    ]
    for w in worst:
        key = _cell(w.key).replace("[", "\\[").replace("]", "\\]")
        item = f"[{key}]({_url(w.link)})" if w.link else key
        lines.append(f"| {item} | {_cell(w.metric)} | {_num(w.candidate)} | {_num(w.baseline)} |")
    return [*lines, ""]


def _flaky(flaky: Sequence[tuple[str, str, tuple[float, ...]]]) -> list[str]:
    if not flaky:
        return []
    lines = [
        "### Flaky items",
        "",
        "The judge's verdicts disagreed when judged again; alone they never fail the gate.",
        "",
    ]
    for key, metric, values in flaky[:MAX_FLAKY]:
        judged = ", ".join(f"{v:.2f}" for v in values)
        lines.append(f"- {_code(key)} {_one_line(metric)}: {judged}")
    return [*lines, *_more(len(flaky), MAX_FLAKY), ""]


def _errors(errors: Sequence[tuple[str, str]]) -> list[str]:
    if not errors:
        return []
    lines = [f"### Candidate errors ({len(errors)})", ""]
    lines += [f"- {_code(key)}: {_one_line(message)[:300]}" for key, message in errors[:MAX_ERRORS]]
    return [*lines, *_more(len(errors), MAX_ERRORS), ""]


def _more(total: int, shown: int) -> list[str]:
    return [f"- and {total - shown} more"] if total > shown else []


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    """Text safe inside a table cell: one line, with ``|`` escaped."""
    return _one_line(text).replace("|", "\\|")


def _code(text: str) -> str:
    """Inline code outside a table; a backtick inside needs a longer fence."""
    text = _one_line(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _url(link: str) -> str:
    """A link target that cannot end the Markdown link early."""
    return link.strip().replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _cap(text: str) -> str:
    if len(text) < COMMENT_LIMIT:
        return text
    note = "\n\n… cut to fit a GitHub comment; the JUnit report lists every rule.\n"
    cut = text[: COMMENT_LIMIT - len(note) - 1]
    return cut[: cut.rfind("\n")] + note


def junit_xml(summary: GateSummary) -> str:
    """JUnit XML: one test case per rule (a failure, skipped, or passed), or one error case
    when the gate could not run."""
    suite_name = _xml(f"vigil.gate.{summary.dataset}")
    suites = ET.Element("testsuites", name="vigil gate")
    suite = ET.SubElement(suites, "testsuite", name=suite_name)
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("candidate", summary.candidate),
        ("baseline", summary.baseline or ""),
        ("dataset_version", str(summary.dataset_version)),
        ("run_id", "" if summary.run_id is None else str(summary.run_id)),
        ("verdict", summary.verdict),
        ("items", str(summary.items)),
    ):
        ET.SubElement(props, "property", name=name, value=_xml(value))
    counts = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    if summary.verdict == "error":
        case = ET.SubElement(suite, "testcase", classname=suite_name, name="gate")
        message = _xml(summary.message or "the gate could not run")
        ET.SubElement(case, "error", message=_one_line(message)).text = message
        counts.update(tests=1, errors=1)
    else:
        for rule in summary.rules:
            case = ET.SubElement(suite, "testcase", classname=suite_name, name=_xml(rule.name))
            counts["tests"] += 1
            message = _xml(rule.message)
            if rule.status == "fail":
                ET.SubElement(case, "failure", message=message).text = message
                counts["failures"] += 1
            elif rule.status == "skipped":
                ET.SubElement(case, "skipped", message=message)
                counts["skipped"] += 1
            else:
                ET.SubElement(case, "system-out").text = message
    for element in (suites, suite):
        for key, count in counts.items():
            element.set(key, str(count))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")


def _xml(text: str) -> str:
    """Text without the control characters XML 1.0 cannot hold (ElementTree escapes the rest)."""
    return _NOT_XML.sub("\ufffd", text)
