"""Gate runs: what the CI gate (`vigil gate`) measured. The recent runs, each a candidate
scored on a golden dataset version against a baseline run; one run's rules and its items
worst first; one item's question, the candidate's answers and their scores; and the golden
datasets with their versions. ``?run=ID`` opens a run and ``&item=KEY`` one of its items
(the gate's pull-request comment links them).

Every signed-in viewer sees the runs' numbers. An item's content (question, contexts,
reference, answers, the candidate's errors, the evaluators' explanations) is shown to
admins, for items from a file, and for items taken from the traces of an app the viewer
was granted (``metadata.app``); ingested text goes into Markdown escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from ui import access
from ui.data import connection
from ui.review_view import escape
from vigil.db import translate_errors
from vigil.errors import VigilError
from vigil.golden import GoldenItem
from vigil.store import datasets
from vigil.store import gate as store
from vigil.store.gate import ScoreRow

ICONS = {"pass": "✅", "fail": "❌", "skipped": "⏭️"}
ERRORS_METRIC = "errors"  # the rule on the candidate's own errors has no per-item scores
HIDDEN = "(hidden)"
START = (
    "Import a golden dataset with `vigil datasets import golden.jsonl --name NAME`, then "
    "score a candidate on it with `vigil gate --dataset NAME --candidate module:function` "
    "(docs/gate.md shows the CI workflow)."
)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _status(status: str) -> str:
    return f"{ICONS.get(status, '')} {status}".strip()


def _may_read(viewer: access.Viewer, item: GoldenItem) -> bool:
    """An item's content is for admins, items from a file, and items of a granted app."""
    app = item.metadata.get("app")
    return viewer.is_admin or app is None or viewer.can_see(str(app))


def _runs_table(rows: list[dict[str, Any]], shown: str | None) -> int | None:
    """The runs, newest first; the id of the row picked, if any."""
    table = pd.DataFrame(
        [
            {
                "run": r["id"],
                "dataset": f"{r['dataset']}@{r['dataset_version']}",
                "verdict": _status(r["verdict"]),
                "candidate": r["candidate"],
                "baseline": r["baseline"] or "none",
                "items": r["items"],
                "errors": r["errors"],
                "when": f"{r['finished_at']:%Y-%m-%d %H:%M}",
                "by": r["created_by"],
                "git": (r["git_sha"] or "")[:7],
            }
            for r in rows
        ],
        columns=["run", "dataset", "verdict", "candidate", "baseline", "items", "errors",
                 "when", "by", "git"],
    )  # fmt: skip
    event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row",
                         key=f"gate_runs_{shown}")  # fmt: skip
    picked = event.selection.rows if event else []
    return int(table["run"].iloc[picked[0]]) if picked else None


def _linked_run(value: str | None) -> dict[str, Any] | None:
    """The run of ``?run=ID``, or None (with a warning when the link names no run)."""
    if not value:
        return None
    if not value.isdigit():
        st.warning(f"No gate run {escape(repr(value))}: a run's id is a number.")
        return None
    try:
        with translate_errors():
            return store.run(conn, int(value))
    except VigilError as err:
        st.warning(escape(str(err)))
        return None


def _diff(interval: dict[str, Any] | None) -> str:
    if not interval:
        return ""
    return f"{interval['mean_diff']:+.3f} ({interval['low']:+.3f} to {interval['high']:+.3f})"


def _rules(rules: list[dict[str, Any]]) -> None:
    st.markdown("**Rules**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "status": _status(r["status"])
                    + (" (only flaky items)" if r.get("only_flaky") else ""),
                    "rule": r["name"],
                    "candidate": r.get("candidate_mean"),
                    "baseline": r.get("baseline_mean"),
                    "diff (CI)": _diff(r.get("interval")),
                    "p (worse)": "" if not r.get("mcnemar") else f"{r['mcnemar']['p_worse']:.3g}",
                    "pairs": r.get("n_pairs"),
                    "flaky items": len(r.get("flaky") or []),
                    "message": r["message"],
                }
                for r in rules
            ],
            columns=["status", "rule", "candidate", "baseline", "diff (CI)", "p (worse)",
                     "pairs", "flaky items", "message"],
        ),
        hide_index=True,
        column_config={
            "candidate": st.column_config.NumberColumn("candidate", format="%.3f"),
            "baseline": st.column_config.NumberColumn("baseline", format="%.3f"),
        },
        key="gate_rules",
    )  # fmt: skip


def _metrics(rules: list[dict[str, Any]], scores: Sequence[ScoreRow]) -> list[str]:
    """The metrics the rules check first, then the others the run scored."""
    ruled = [r["metric"] for r in rules if r["metric"] != ERRORS_METRIC]
    return list(dict.fromkeys(ruled + sorted({s.metric for s in scores})))


def _errors(outputs: list[dict[str, Any]]) -> dict[str, str]:
    """Each item's first error, with how many samples failed when more than one ran."""
    failed: dict[str, list[str]] = {}
    samples: dict[str, int] = {}
    for o in outputs:
        samples[o["item_key"]] = samples.get(o["item_key"], 0) + 1
        if o["error"] is not None:
            failed.setdefault(o["item_key"], []).append(o["error"])
    return {
        key: errors[0][:200]
        + (f" ({len(errors)} of {samples[key]} samples)" if samples[key] > 1 else "")
        for key, errors in failed.items()
    }


def _drop(key: str, metrics: list[str], mine: dict[tuple[str, str], ScoreRow],
          theirs: dict[tuple[str, str], float | None]) -> float:  # fmt: skip
    """How far the item fell, its worst metric: below the baseline's value, or below 1 (a
    perfect score) without one, as the gate's "worst items" rank them; inf: no value."""
    drops = [
        score.value - (1.0 if (base := theirs.get((key, m))) is None else base)
        for m in metrics
        if (score := mine.get((key, m))) is not None and score.value is not None
    ]
    return min(drops, default=math.inf)


def _items_table(run: dict[str, Any], items: list[GoldenItem], scores: list[ScoreRow],
                 baseline: list[ScoreRow] | None) -> str | None:  # fmt: skip
    """Every item of the run, worst first (the candidate's errors, then the largest drop);
    the key of the row picked, if any."""
    metrics = _metrics(run["rules"], scores)
    mine = {(s.item_key, s.metric): s for s in scores}
    theirs = {(s.item_key, s.metric): s.value for s in baseline or []}
    errors = _errors(store.outputs(conn, run["id"]))
    rows = []
    for item in items:
        scored = {m: mine.get((item.id, m)) for m in metrics}
        row: dict[str, Any] = {"item": item.id}
        for m, score in scored.items():
            row[m] = None if score is None else score.value
            if baseline is not None:
                row[f"{m} (baseline)"] = theirs.get((item.id, m))
        row["flaky"] = ", ".join(m for m, score in scored.items() if score and score.flaky)
        error = errors.get(item.id)
        row["error"] = "" if error is None else error if _may_read(viewer, item) else HIDDEN
        rows.append((error is None, _drop(item.id, metrics, mine, theirs), item.id, row))
    rows.sort(key=lambda r: r[:3])
    shown = [row for *_, row in rows]
    columns = ["item", *[c for m in metrics
                         for c in ([m, f"{m} (baseline)"] if baseline is not None else [m])],
               "flaky", "error"]  # fmt: skip
    table = pd.DataFrame(shown, columns=columns)
    st.markdown(f"**Items** ({len(shown)}, worst first; pick one to open it)")
    event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row",
                         key=f"gate_items_{run['id']}")  # fmt: skip
    picked = event.selection.rows if event else []
    return str(table["item"].iloc[picked[0]]) if picked else None


def _caption(run: dict[str, Any]) -> str:
    if run["baseline_run_id"] is not None:
        text = escape(run["baseline"] or f"run #{run['baseline_run_id']}")
        baseline = f"[{text}](/gate?run={run['baseline_run_id']})"
    elif run["baseline"]:
        baseline = escape(run["baseline"])  # a gate-run file
    else:
        baseline = "none (the first run on this dataset version)"
    pinned = ", ".join(f"{n}@{v}" for n, v in sorted(run["evaluators"].items()))
    git = f" · git {escape(run['git_sha'][:7])}" if run["git_sha"] else ""
    started, finished = run["started_at"], run["finished_at"]
    until = "%H:%M" if finished.date() == started.date() else "%Y-%m-%d %H:%M"
    return (
        f"Candidate {escape(run['candidate'])} against baseline {baseline} · "
        f"{_n(run['items'], 'item')}, {run['errors']} errored · by {escape(run['created_by'])}, "
        f"{started:%Y-%m-%d %H:%M} to {finished.strftime(until)}{git} · "
        f"evaluators {escape(pinned) or 'none'}"
    )


def _source(item: GoldenItem) -> str:
    source, tags = item.source, ", ".join(item.tags)
    if source is None:
        where = "Source not recorded"
    elif source.kind == "file":
        where = f"From the file {source.file or '?'}"
    else:
        reference = "the reviewer's corrected answer" if source.corrected else "the answer"
        where = (
            f"From trace {source.trace_id} of {item.metadata.get('app', '?')}, labeled "
            f"{source.label!r} by {source.reviewer}; the reference is {reference}"
        )
    return escape(where + (f" · tags: {tags}" if tags else ""))


def _golden(item: GoldenItem) -> None:
    """The item as the dataset holds it; code items' prompt, tests and solution as code."""
    if item.kind == "code":
        st.markdown(f"**Prompt** (entry point `{item.entry_point}`)")
        st.code(item.input, language="python")
        st.markdown("**Tests**")
        st.code(item.test or "", language="python")
        if item.reference is not None:
            st.markdown("**Reference solution**")
            st.code(item.reference, language="python")
        return
    st.markdown("**Input**")
    st.text(item.input)
    st.markdown(f"**Contexts** ({len(item.contexts)})")
    for number, context in enumerate(item.contexts, start=1):
        with st.expander(f"Context {number}", expanded=len(item.contexts) <= 3):
            st.text(context)
    if item.retrieval is not None:
        within = f" within the top {item.retrieval.k}" if item.retrieval.k else ""
        found = ", ".join(item.retrieval.relevant_document_ids)
        st.caption(escape(f"A good retrieval finds {found}{within}"))
    st.markdown("**Reference**")
    st.text(item.reference or "(no reference)")


def _answers(item: GoldenItem, outputs: list[dict[str, Any]]) -> None:
    if not outputs:
        st.caption("The run stored no answer for this item.")
    for o in outputs:
        latency = "" if o["latency_ms"] is None else f" · {o['latency_ms']:,.0f} ms"
        which = f", sample {o['sample'] + 1} of {len(outputs)}" if len(outputs) > 1 else ""
        st.markdown(f"**The candidate's answer**{which}{latency}")
        if o["error"] is not None:
            st.error(f"The candidate failed: {escape(o['error'])}", icon=":material/error:")
        elif item.kind == "code":
            st.code(o["answer"] or "", language="python")
        else:
            st.text(o["answer"] or "(no answer)")
        if o["contexts"]:
            with st.expander(f"Contexts the candidate retrieved ({len(o['contexts'])})"):
                st.dataframe(pd.DataFrame(o["contexts"]), hide_index=True)


def _item_scores(key: str, scores: list[ScoreRow], baseline: list[ScoreRow] | None,
                 readable: bool) -> None:  # fmt: skip
    theirs = {s.metric: s.value for s in baseline or [] if s.item_key == key}
    rows = [
        {
            "metric": s.metric,
            "version": s.version,
            "status": s.status,
            "value": s.value,
            "baseline": theirs.get(s.metric),
            "votes": ", ".join(f"{v:.2f}" for v in s.votes),
            "flaky": s.flaky,
            "explanation": s.explanation if readable else HIDDEN,
        }
        for s in scores
        if s.item_key == key
    ]
    columns = ["metric", "version", "status", "value", "baseline", "votes", "flaky",
               "explanation"]  # fmt: skip
    if baseline is None:
        columns.remove("baseline")
    st.markdown("**Scores** (votes: every judgement when the judge was asked again)")
    st.dataframe(pd.DataFrame(rows, columns=columns), hide_index=True, key="gate_item_scores")


def _item_view(run: dict[str, Any], item: GoldenItem | None, key: str, scores: list[ScoreRow],
               baseline: list[ScoreRow] | None) -> None:  # fmt: skip
    st.subheader(f"Item {escape(key)}")
    if item is None:
        st.warning(f"No item {escape(repr(key))} in {escape(run['dataset'])}@"
                   f"{run['dataset_version']}.")  # fmt: skip
        return
    readable = _may_read(viewer, item)
    if readable:
        st.caption(_source(item))
        _golden(item)
        _answers(item, store.outputs(conn, run["id"], key))
    else:
        st.info(
            f"This item comes from app {escape(str(item.metadata['app']))}'s traces, which you "
            "have no access to: its question, contexts, reference and answers are not shown."
        )
    _item_scores(key, scores, baseline, readable)


def _run_view(run: dict[str, Any]) -> None:
    st.subheader(f"Run #{run['id']} · {escape(run['dataset'])}@{run['dataset_version']} · "
                 f"{_status(run['verdict'])}")  # fmt: skip
    st.caption(_caption(run))
    _rules(run["rules"])
    items = datasets.items(conn, run["dataset_version_id"])
    scores = store.scores(conn, run["id"])
    baseline = None
    if run["baseline_run_id"] is not None:
        baseline = store.scores(conn, run["baseline_run_id"])
    picked = _items_table(run, items, scores, baseline)
    if picked is not None and picked != st.query_params.get("item"):
        st.query_params["item"] = picked
    key = st.query_params.get("item")
    if key:
        _item_view(run, next((i for i in items if i.id == key), None), key, scores, baseline)


def _runs(names: list[str]) -> None:
    shown = st.selectbox("Dataset", [None, *names], format_func=lambda n: n or "All datasets",
                         key="gate_dataset")  # fmt: skip
    recent = store.recent(conn, dataset=shown)
    if recent:
        picked = _runs_table(recent, shown)
        if picked is not None and str(picked) != st.query_params.get("run"):
            st.query_params["run"] = str(picked)
            st.query_params.pop("item", None)
    else:
        where = f" on {escape(shown)}" if shown else ""
        st.info(f"No gate runs{where} yet: score a candidate with `vigil gate --dataset NAME "
                "--candidate module:function` (see docs/gate.md).")  # fmt: skip
    run = _linked_run(st.query_params.get("run"))
    if run is not None:
        _run_view(run)


def _datasets(listing: list[dict[str, Any]]) -> None:
    """Each dataset's versions, newest first, with the gate runs that used each."""
    for number, d in enumerate(listing):
        name = escape(d["name"])
        st.markdown(f"**{name}** · {_n(d['versions'], 'version')}; the latest, "
                    f"{name}@{d['version']}, holds {_n(d['items'], 'item')}")  # fmt: skip
        st.dataframe(
            pd.DataFrame(
                [
                    {"version": v["version"], "items": v["items"], "change": v["change"],
                     "by": v["created_by"], "when": f"{v['created_at']:%Y-%m-%d %H:%M}",
                     "gate runs": v["gate_runs"]}
                    for v in datasets.versions(conn, d["name"])
                ],
                columns=["version", "items", "change", "by", "when", "gate runs"],
            ),
            hide_index=True,
            key=f"gate_versions_{number}",
        )  # fmt: skip


viewer = access.current()
conn = connection()
st.title("Gate runs")

listing = datasets.listing(conn)
if not listing:
    st.info(f"No golden datasets and no gate runs yet. {START}", icon=":material/rule:")
    st.stop()
runs_tab, datasets_tab = st.tabs(["Runs", "Datasets"])
with runs_tab:
    _runs([d["name"] for d in listing])
with datasets_tab:
    _datasets(listing)
