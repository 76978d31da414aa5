"""The Gate runs page, driven by AppTest against the real test database: the run list and
its filter, ``?run=ID`` (rules, items worst first beside the baseline's values),
``&item=KEY`` (the item, the candidate's answers, the votes), who may read an item taken from
an app's traces, the datasets and their versions, and a run the real gate stored."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from flows.gate import GateOutcome, GateRequest, run_gate
from tests.ui.pages import ADMIN, APP
from tests.ui.signin import sign_in
from ui.access import Viewer
from ui.review_view import escape
from vigil.db.types import Conn
from vigil.gate import GateConfig, Interval, McNemar, Rule, RuleResult
from vigil.gate.rules import NO_BASELINE
from vigil.golden import GoldenItem, Source
from vigil.settings import load_settings
from vigil.store import datasets
from vigil.store import gate as store

PAGE = "app_pages/gate.py"
STARTED = datetime(2025, 5, 1, 9, 30, tzinfo=UTC)
FILE = Source(kind="file", file="golden.jsonl")
ITEMS = [
    GoldenItem(id="q-refund", input="How long do refunds take?",
               contexts=["Refunds are paid within 14 days."], reference="Within 14 days.",
               source=FILE),
    GoldenItem(id="q-shipping", input="Is shipping free?",
               contexts=["Shipping is free over 50 EUR."], reference="Over 50 EUR, yes.",
               source=FILE),
    GoldenItem(id="trace-h0", input="secret question", contexts=["secret context"],
               reference="secret reference", tags=["hr-bot", "label:correct"],
               source=Source(kind="review", trace_id="h0", reviewer="ana", label="correct",
                             corrected=False),
               metadata={"app": "hr-bot", "review_item": 7}),
]  # fmt: skip
CODE = GoldenItem(
    id="HumanEval/0", input='def add(a, b):\n    """The sum of a and b."""\n',
    entry_point="add", test="def check(candidate):\n    assert candidate(1, 2) == 3\n",
    reference="    return a + b\n", tags=["code"], source=FILE,
)  # fmt: skip


def good_candidate(prompt: str) -> str:
    """A candidate the real gate imports by name: it completes ``add`` correctly."""
    return "    return a + b\n"


def bad_candidate(prompt: str) -> str:
    return "    return a - b\n"


def _rule(name: str, metric: str, status: str, message: str, **fields: Any) -> dict[str, Any]:
    result = RuleResult(name=name, metric=metric, status=status,  # type: ignore[arg-type]
                        message=message, candidate_mean=fields.get("candidate"),
                        baseline_mean=fields.get("baseline"), interval=fields.get("interval"),
                        mcnemar=fields.get("mcnemar"), n_pairs=fields.get("pairs", 0),
                        flaky=tuple(fields.get("flaky", ())),
                        only_flaky=fields.get("only_flaky", False))  # fmt: skip
    return dataclasses.asdict(result)


def _record(version_id: int, candidate: str, verdict: str, rules: list[dict[str, Any]], *,
            baseline_run_id: int | None = None, errors: int = 0, items: int = 3,
            sha: str | None = "abc1234def") -> store.RunRecord:  # fmt: skip
    return store.RunRecord(
        dataset_version_id=version_id, candidate=candidate, config={}, config_hash="h",
        evaluators={"groundedness": "2"}, baseline_run_id=baseline_run_id,
        baseline=None if baseline_run_id is None else f"run #{baseline_run_id} (last passing)",
        verdict=verdict, rules=rules, items=items, errors=errors, git_sha=sha,
        started_at=STARTED, created_by="ci",
    )  # fmt: skip


def _output(key: str, answer: str | None, error: str | None = None) -> store.OutputRow:
    return store.OutputRow(key, 0, answer, [], error, 120.0)


def _score(key: str, value: float | None, **fields: Any) -> store.ScoreRow:
    status = "scored" if value is not None else "error"
    return store.ScoreRow(key, "groundedness", "2", value, status, fields.get("why", "ok"),
                          tuple(fields.get("votes", ())), fields.get("flaky", False))  # fmt: skip


def seed(conn: Conn) -> tuple[int, int]:
    """support@1 (two items from a file, one from hr-bot's traces) and two runs on it: a
    passing baseline (#1) and a failing candidate (#2) compared with it."""
    version = datasets.save_version(conn, "support", ITEMS, by="ana", change="import golden.jsonl")
    baseline = store.save_run(
        conn,
        _record(version.id, "app.rag:answer", "pass",
                [_rule("groundedness must not drop by more than 0.02", "groundedness",
                       "skipped", NO_BASELINE, candidate=0.8)]),
        [_output("q-refund", "Refunds take 14 days."), _output("q-shipping", "It is free."),
         _output("trace-h0", "secret old answer")],
        [_score("q-refund", 0.9), _score("q-shipping", 0.8), _score("trace-h0", 0.7)],
    )  # fmt: skip
    rules = [
        _rule("groundedness must not drop by more than 0.02", "groundedness", "fail",
              "mean diff -0.325 (95% CI -0.600 to -0.050) is below -0.02", candidate=0.525,
              baseline=0.8, interval=Interval(-0.325, -0.6, -0.05, 2), pairs=2,
              flaky=["q-shipping"]),
        _rule("judge must not pass fewer items", "groundedness", "pass",
              "pass rate drop not significant", candidate=0.525, baseline=0.8,
              mcnemar=McNemar(b=1, c=0, p_worse=0.5, p_two_sided=1.0), pairs=2),
        _rule("candidate errors must not exceed 50% of items", "errors", "pass",
              "1 of 3 items errored (33.3% <= 50.0%)", candidate=1 / 3, pairs=3),
    ]  # fmt: skip
    candidate = store.save_run(
        conn,
        _record(version.id, "app.rag:answer_v2", "fail", rules, baseline_run_id=baseline,
                errors=1),
        [_output("q-refund", "Refunds take about two weeks."),
         _output("q-shipping", "Shipping is always free."),
         _output("trace-h0", None, "TimeoutError: secret question took 60 s")],
        [_score("q-refund", 0.85, why="supported"),
         _score("q-shipping", 0.2, why="not in the context", votes=(0.2, 0.6, 0.1), flaky=True),
         _score("trace-h0", None, why="the candidate failed: secret question took 60 s")],
    )  # fmt: skip
    return baseline, candidate


def open_gate(viewer: Viewer = ADMIN, **params: str) -> AppTest:
    """The Gate runs page as ``viewer``, with ``params`` in its address."""
    at = AppTest.from_file(str(APP), default_timeout=30)
    sign_in(at, viewer.name, viewer.role, None if viewer.apps is None else set(viewer.apps))
    at.run()
    at.switch_page(PAGE)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page with ``column``."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def shown(at: AppTest) -> str:
    """Every text the page shows, tables included."""
    kinds = ("text", "markdown", "caption", "subheader", "code", "info", "warning", "error")
    parts = [str(getattr(e, "value", "")) for kind in kinds for e in at.get(kind)]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(parts)


def test_an_empty_page_says_how_to_make_a_dataset_and_a_run(conn: Conn) -> None:
    at = open_gate()
    assert at.title[0].value == "Gate runs"
    message = at.info[0].value
    assert "`vigil datasets import golden.jsonl --name NAME`" in message
    assert "`vigil gate --dataset NAME --candidate module:function`" in message
    assert "docs/gate.md" in message
    assert not at.dataframe and not at.tabs

    datasets.save_version(conn, "support", ITEMS, by="ana", change="import golden.jsonl")
    at = open_gate()
    assert "No gate runs yet" in at.info[0].value and "`vigil gate" in at.info[0].value
    assert table(at, "gate runs")["version"].tolist() == [1]  # the Datasets tab lists it


def test_the_run_list_shows_each_run_and_filters_by_dataset(conn: Conn) -> None:
    seed(conn)
    code = datasets.save_version(conn, "code", [CODE], by="bo", change="import humaneval.jsonl")
    store.save_run(conn, _record(code.id, "app.code:complete", "pass", [], items=1, sha=None),
                   [_output(CODE.id, "    return a + b\n")], [])  # fmt: skip

    at = open_gate(Viewer("vic", "viewer", frozenset()))  # run numbers: for every viewer
    runs = table(at, "verdict")
    assert runs["run"].tolist() == [3, 2, 1]  # newest first
    assert runs.iloc[1].to_dict() == {
        "run": 2, "dataset": "support@1", "verdict": "❌ fail", "candidate": "app.rag:answer_v2",
        "baseline": "run #1 (last passing)", "items": 3, "errors": 1,
        "when": runs.iloc[1]["when"], "by": "ci", "git": "abc1234",
    }  # fmt: skip
    assert runs["verdict"].tolist() == ["✅ pass", "❌ fail", "✅ pass"]
    assert runs["baseline"].tolist()[2] == "none" and runs["git"].tolist()[0] == ""

    at.selectbox(key="gate_dataset").select("support").run()
    assert table(at, "verdict")["run"].tolist() == [2, 1]
    at.selectbox(key="gate_dataset").select("code").run()
    assert table(at, "verdict")["dataset"].tolist() == ["code@1"]


def test_a_run_link_shows_its_rules_and_items_worst_first(conn: Conn) -> None:
    baseline, candidate = seed(conn)
    at = open_gate(run=str(candidate))
    assert at.subheader[0].value == f"Run #{candidate} · support@1 · ❌ fail"
    caption = at.caption[0].value
    assert f"[run \\#{baseline} \\(last passing\\)](/gate?run={baseline})" in caption
    assert "git abc1234" in caption and "groundedness@2" in caption

    rules = table(at, "rule")
    assert rules["status"].tolist() == ["❌ fail", "✅ pass", "✅ pass"]
    first = rules.iloc[0]
    assert (first["candidate"], first["baseline"]) == (0.525, 0.8)
    assert first["diff (CI)"] == "-0.325 (-0.600 to -0.050)"
    assert (first["pairs"], first["flaky items"]) == (2, 1)
    assert rules["p (worse)"].tolist() == ["", "0.5", ""]

    items = table(at, "item")
    assert items.columns.tolist() == ["item", "groundedness", "groundedness (baseline)", "flaky",
                                      "error"]  # fmt: skip
    assert items["item"].tolist() == ["trace-h0", "q-shipping", "q-refund"]  # error, -0.6, -0.05
    assert items["groundedness"].tolist()[1:] == [0.2, 0.85]
    assert items["groundedness (baseline)"].tolist() == [0.7, 0.8, 0.9]
    assert items["flaky"].tolist() == ["", "groundedness", ""]
    assert items["error"].tolist()[0] == "TimeoutError: secret question took 60 s"

    first_run = open_gate(run=str(baseline))  # no baseline: no baseline column
    assert "groundedness (baseline)" not in table(first_run, "item").columns
    assert "none (the first run on this dataset version)" in first_run.caption[0].value


def test_an_item_link_shows_the_item_answers_and_votes(conn: Conn) -> None:
    _, candidate = seed(conn)
    at = open_gate(run=str(candidate), item="q-shipping")
    assert at.subheader[1].value == "Item q\\-shipping"
    texts = [t.value for t in at.text]
    assert texts == ["Is shipping free?", "Shipping is free over 50 EUR.", "Over 50 EUR, yes.",
                     "Shipping is always free."]  # fmt: skip
    assert "From the file golden\\.jsonl" in at.caption[1].value
    scores = table(at, "votes")
    columns = ["metric", "value", "baseline", "votes", "flaky", "explanation"]
    assert scores[columns].values.tolist() == [
        ["groundedness", 0.2, 0.8, "0.20, 0.60, 0.10", True, "not in the context"]
    ]

    at = open_gate(run=str(candidate), item="trace-h0")  # an admin reads every item
    assert "secret question" in [t.value for t in at.text]
    error = "TimeoutError: secret question took 60 s"
    assert at.error[0].value == f"The candidate failed: {escape(error)}"

    at = open_gate(run=str(candidate), item="no-such-item")
    assert "No item \\'no\\-such\\-item\\' in support@1" in at.warning[0].value
    at = open_gate(run="999")
    assert "no gate run \\#999" in at.warning[0].value
    at = open_gate(run="nine")
    assert "a run's id is a number" in at.warning[0].value


def test_a_code_item_shows_its_prompt_tests_and_answer_as_code(conn: Conn) -> None:
    code = datasets.save_version(conn, "code", [CODE], by="bo", change="import humaneval.jsonl")
    run_id = store.save_run(
        conn, _record(code.id, "app.code:complete", "pass", [], items=1),
        [_output(CODE.id, "    return a + b\n")],
        [store.ScoreRow(CODE.id, "pass@1", "sandbox-1", 1.0, "scored", "all tests passed")],
    )  # fmt: skip
    at = open_gate(run=str(run_id), item=CODE.id)
    blocks = [(c.value, c.language) for c in at.code]  # st.code drops the trailing newline
    assert blocks == [(CODE.input.rstrip(), "python"), (str(CODE.test).rstrip(), "python"),
                      ("    return a + b", "python"), ("    return a + b", "python")]  # fmt: skip
    assert any("entry point `add`" in m.value for m in at.markdown)


def test_a_viewer_without_the_app_sees_no_content_of_its_items(conn: Conn) -> None:
    """Numbers are for everyone; an item taken from hr-bot's traces is read by hr-bot's
    viewers (and admins) only; items from a file by everyone."""
    _, candidate = seed(conn)
    vic = Viewer("vic", "viewer", frozenset({"support-bot"}))
    at = open_gate(vic, run=str(candidate), item="trace-h0")
    assert at.info[0].value.startswith("This item comes from app hr\\-bot's traces, which you "
                                       "have no access to")  # fmt: skip
    assert "secret" not in shown(at)
    items = table(at, "item")
    assert items["error"].tolist() == ["(hidden)", "", ""]  # the error quotes the question
    assert items["groundedness (baseline)"].tolist() == [0.7, 0.8, 0.9]  # numbers stay
    assert table(at, "votes")["explanation"].tolist() == ["(hidden)"]

    at = open_gate(vic, run=str(candidate), item="q-refund")  # from a file: readable
    assert "How long do refunds take?" in [t.value for t in at.text]
    assert not at.info

    hr = Viewer("hal", "viewer", frozenset({"hr-bot"}))
    at = open_gate(hr, run=str(candidate), item="trace-h0")
    assert "secret question" in [t.value for t in at.text]
    assert "From trace h0 of hr\\-bot, labeled \\'correct\\' by ana" in at.caption[1].value


def test_the_datasets_tab_lists_each_version(conn: Conn) -> None:
    seed(conn)
    extra = GoldenItem(id="q-hours", input="When are you open?", reference="9 to 5.", source=FILE)
    datasets.save_version(conn, "support", [*ITEMS, extra], by="bo", change="import v2.jsonl")
    datasets.save_version(conn, "code", [CODE], by="bo", change="import humaneval.jsonl")
    at = open_gate()
    assert [t.label for t in at.tabs] == ["Runs", "Datasets"]
    support = [d.value for d in at.dataframe if "gate runs" in d.value.columns]
    assert [t["version"].tolist() for t in support] == [[1], [2, 1]]  # by name: code, support
    versions = support[1]
    assert versions[["version", "items", "change", "by", "gate runs"]].values.tolist() == [
        [2, 4, "import v2.jsonl", "bo", 0], [1, 3, "import golden.jsonl", "ana", 2],
    ]  # fmt: skip
    lines = [m.value for m in at.markdown]
    assert "**support** · 2 versions; the latest, support@2, holds 4 items" in lines


def test_ingested_text_is_escaped_in_markdown(conn: Conn) -> None:
    odd = "x_[*click*](http://evil)`:red[y]`"
    version = datasets.save_version(conn, "support", ITEMS, by="ana", change="import")
    run_id = store.save_run(conn, _record(version.id, odd, "pass", []), [], [])
    at = open_gate(run=str(run_id), item=odd)
    assert f"Candidate {escape(odd)} against baseline" in at.caption[0].value
    assert at.subheader[1].value == f"Item {escape(odd)}"


@pytest.mark.slow
def test_a_run_the_real_gate_stored_opens(conn: Conn) -> None:
    """``vigil gate``'s own path (run_gate) with candidates imported by name: a first run,
    then a worse candidate against it; the page reads what the runner wrote."""
    datasets.save_version(conn, "code", [CODE], by="bo", change="import humaneval.jsonl")
    rule = Rule(metric="pass@1", not_below_baseline=True, strict=True)
    config = GateConfig(evaluators=["code_tests"], rules=[rule])

    def gate(candidate: str) -> GateOutcome:
        request = GateRequest(dataset="code", candidate=f"{__name__}:{candidate}",
                              config=config, by="ci")  # fmt: skip
        return run_gate(conn, load_settings(), request)

    first, second = gate("good_candidate"), gate("bad_candidate")
    assert (first.summary.verdict, second.summary.verdict) == ("pass", "fail")

    at = open_gate(run=str(second.run_id), item=CODE.id)
    assert at.subheader[0].value == f"Run #{second.run_id} · code@1 · ❌ fail"
    rules = table(at, "rule")
    assert rules["status"].tolist()[0] == "❌ fail"
    items = table(at, "item")
    assert items[["item", "pass@1", "pass@1 (baseline)"]].values.tolist() == [
        [CODE.id, 0.0, 1.0]]  # fmt: skip
    assert ("    return a - b", "python") in [(c.value, c.language) for c in at.code]
    assert table(at, "votes")["metric"].tolist() == ["code_tests", "pass@1"]
