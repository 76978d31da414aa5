"""The gate's reports: a PR comment a workflow can find again, and JUnit XML CI can read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from vigil.gate.report import (
    COMMENT_LIMIT,
    EXIT_CODES,
    MARKER,
    GateSummary,
    WorstItem,
    junit_xml,
    markdown,
    worst_items,
)
from vigil.gate.rules import ItemScore, RuleResult
from vigil.gate.stats import Interval, McNemar

DROP = RuleResult(
    name="groundedness must not drop by more than 0.02",
    metric="groundedness",
    status="fail",
    message="mean diff -0.061 (95% CI -0.090 to -0.034) is below -0.02",
    candidate_mean=0.712,
    baseline_mean=0.773,
    interval=Interval(mean_diff=-0.061, low=-0.090, high=-0.034, n=60),
    mcnemar=None,
    n_pairs=60,
    flaky=(),
)
RATE = RuleResult(
    name="judge pass rate",
    metric="judge:groundedness",
    status="pass",
    message="passes without its 1 flaky item (...); with them: pass rate dropped",
    candidate_mean=0.8,
    baseline_mean=0.81,
    interval=None,
    mcnemar=McNemar(b=3, c=1, p_worse=0.3125, p_two_sided=0.625),
    n_pairs=60,
    flaky=("q|7",),
    only_flaky=True,
)
FIRST = RuleResult(
    "answer_relevance must not drop by more than 0.02",
    "answer_relevance",
    "skipped",
    "no baseline: first run on this dataset version",
    0.9,
    None,
    None,
    None,
    0,
    (),
)
SUMMARY = GateSummary(
    dataset="support-golden",
    dataset_version=3,
    run_id=42,
    candidate="app.prompts:v2",
    baseline="run #12 (last passing)",
    verdict="fail",
    rules=(DROP, RATE, FIRST),
    errors=tuple((f"err-{i}", f"TimeoutError: no answer\nafter 60 s #{i}") for i in range(13)),
    worst=(
        WorstItem("q|7", "groundedness", 0.1, 0.9, "http://vigil/gate/42?item=q%7C7"),
        WorstItem("q-8", "groundedness", None, 0.8, None),
    ),
    flaky=(("q|7", "judge:groundedness", (0.45, 0.55, 0.5)),),
    evaluators={"groundedness": "1", "judge:groundedness": "2"},
    items=60,
)


def test_the_comment_starts_with_the_marker_and_has_the_verdict_and_rule_table() -> None:
    text = markdown(SUMMARY)
    lines = text.splitlines()
    assert lines[0] == MARKER == "<!-- vigil-gate -->"
    assert lines[1] == "## ❌ Vigil gate: fail on support-golden v3"
    assert "against baseline run #12 (last passing): 60 items, run #42." in text
    assert "| rule | candidate | baseline | diff (CI) | p (worse) | status |" in lines
    assert (
        "| groundedness must not drop by more than 0.02 | 0.712 | 0.773 "
        "| -0.061 (-0.090 to -0.034) |  | ❌ fail |"
    ) in lines
    assert "| judge pass rate | 0.800 | 0.810 |  | 0.312 | ✅ pass (only flaky items) |" in lines
    assert (
        "| answer_relevance must not drop by more than 0.02 | 0.900 |  |  |  | ⏭️ skipped |" in lines
    )
    assert f"- **{DROP.name}**: {DROP.message}" in lines
    assert "`groundedness@1`, `judge:groundedness@2`" in text


def test_cells_escape_pipes_and_newlines_and_errors_are_capped() -> None:
    lines = markdown(SUMMARY).splitlines()
    assert "| [q\\|7](http://vigil/gate/42?item=q%7C7) | groundedness | 0.100 | 0.900 |" in lines
    assert "| q-8 | groundedness |  | 0.800 |" in lines
    assert "- `q|7` judge:groundedness: 0.45, 0.55, 0.50" in lines  # no table: no escape
    assert "### Candidate errors (13)" in lines
    assert "- `err-0`: TimeoutError: no answer after 60 s #0" in lines
    assert "- `err-9`: TimeoutError: no answer after 60 s #9" in lines
    assert not any(line.startswith("- `err-10`") for line in lines)
    assert "- and 3 more" in lines
    for line in lines:  # every table row keeps its column count
        if line.startswith("| "):
            assert line.replace("\\|", "").count("|") in (5, 7), line


def test_a_huge_summary_is_cut_below_githubs_limit_and_keeps_its_marker() -> None:
    many = tuple(replace(DROP, name=f"rule {i} " + "x" * 200) for i in range(600))
    text = markdown(replace(SUMMARY, rules=many))
    assert len(text) < COMMENT_LIMIT
    assert text.startswith(MARKER + "\n")
    assert text.rstrip().endswith("the JUnit report lists every rule.")


def test_junit_has_one_case_per_rule_and_the_right_counts() -> None:
    root = ET.fromstring(junit_xml(SUMMARY))
    suite = root.find("testsuite")
    assert suite is not None
    for element in (root, suite):
        assert (
            element.get("tests"),
            element.get("failures"),
            element.get("skipped"),
            element.get("errors"),
        ) == ("3", "1", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [DROP.name, RATE.name, FIRST.name]
    assert {c.get("classname") for c in cases} == {"vigil.gate.support-golden"}
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("message") == DROP.message
    assert cases[1].find("failure") is None and cases[1].find("skipped") is None
    skipped = cases[2].find("skipped")
    assert skipped is not None and skipped.get("message") == FIRST.message
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "fail" and props["candidate"] == "app.prompts:v2"


def test_junit_escapes_markup_and_drops_control_characters() -> None:
    odd = replace(DROP, name='a <b> & "c"', message="bad \x00 byte </failure>")
    root = ET.fromstring(junit_xml(replace(SUMMARY, rules=(odd,))))
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("name") == 'a <b> & "c"'
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == "bad \ufffd byte </failure>"


def test_an_error_summary_is_one_error_case_and_exit_code_2() -> None:
    broken = replace(
        SUMMARY,
        verdict="error",
        rules=(),
        errors=(),
        worst=(),
        flaky=(),
        message="dataset 'support-golden' has no version 3",
    )
    text = markdown(broken)
    assert text.startswith(MARKER + "\n## ⚠️ Vigil gate: error on support-golden v3\n")
    assert "The gate could not run: dataset 'support-golden' has no version 3" in text
    assert "| rule |" not in text
    root = ET.fromstring(junit_xml(broken))
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("1", "1", "0")
    error = root.find("testsuite/testcase/error")
    assert error is not None and error.get("message") == broken.message
    assert EXIT_CODES == {"pass": 0, "fail": 1, "error": 2}


def test_a_passing_first_run_reads_as_such() -> None:
    first = replace(
        SUMMARY,
        verdict="pass",
        baseline=None,
        run_id=None,
        rules=(FIRST,),
        errors=(),
        worst=(),
        flaky=(),
    )
    text = markdown(first)
    assert "## ✅ Vigil gate: pass on support-golden v3" in text
    assert "against baseline none (first run on this dataset version): 60 items." in text
    assert "### Worst items" not in text and "### Candidate errors" not in text


def test_worst_items_rank_the_largest_drops_over_every_metric() -> None:
    scores = {
        "groundedness": [
            ItemScore("a", 0.2, 0.9),
            ItemScore("b", 0.9, 0.8),
            ItemScore("c", None, 0.9),
        ],
        "answer_relevance": [ItemScore("a", 0.5, 0.6), ItemScore("d", 0.4, None)],
    }
    worst = worst_items(scores, 3, link=lambda key: f"http://vigil/item/{key}")
    assert [(w.key, w.metric) for w in worst] == [
        ("a", "groundedness"),
        ("d", "answer_relevance"),
        ("a", "answer_relevance"),
    ]
    assert worst[0] == WorstItem("a", "groundedness", 0.2, 0.9, "http://vigil/item/a")
    assert worst_items(scores, 0) == ()
    assert all(w.link is None for w in worst_items(scores, 5))
    assert "b" not in {w.key for w in worst_items(scores, 5)}  # it improved
