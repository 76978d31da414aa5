"""Review queue: claim the next item, read it, label it, move on.

Keyboard: 1-5 set a label, N claims the next item, G adds the item to the golden dataset.

Every write callback acts as the user the users table says now (:func:`ui.signin.acting`):
Streamlit runs a callback before the sign-in gate re-reads the user, so the viewer a button
was drawn for may have been disabled, downgraded or lost a grant since. Ingested text
(trace ids, apps, headlines, document ids) goes into Markdown escaped.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from ui import access, signin
from ui.data import connection
from ui.review_view import escape, highlighted_answer, unsupported_sentences
from vigil.db import translate_errors
from vigil.errors import VigilError
from vigil.golden.item import NAME_RULE, is_dataset_name
from vigil.golden.reviewed import add_reviewed
from vigil.models import Trace
from vigil.settings import load_settings
from vigil.store import datasets, review, scores, traces

FLASH = "review_flash"
ITEM = "review_item"  # the id of the item on screen
KINDS = {"Regressions and audit": None, "Regressions": False, "Audit sample": True}
SHORTCUTS = {label: str(n) for n, label in enumerate(review.LABELS, start=1)}
GOLDEN = "golden_dataset"  # the dataset "Add to golden dataset" adds to
DEFAULT_GOLDEN = "reviewed"


def _flash(kind: str, message: str) -> None:
    st.session_state[FLASH] = (kind, message)


def _labeler(app: str, refusal: str) -> access.Viewer | None:
    """The acting viewer if they may label ``app`` now; else flash ``refusal`` and None."""
    viewer = signin.acting()  # as the users table says now, not as of the last run
    if viewer is None or not viewer.can_label(app):
        _flash("error", f"You may not {refusal} items of {escape(app)}. Nothing was saved.")
        return None
    return viewer


def _show_item(item_id: int | None) -> None:
    st.session_state[ITEM] = item_id
    st.session_state["review_note"] = ""
    st.session_state["review_corrected"] = ""


def _claim_next(apps: list[str], filters: review.Filters, current: int | None) -> None:
    """Give back the item on screen if it is still pending, and claim the next one, among
    the ``apps`` the button was drawn for that the viewer may still label."""
    viewer = signin.acting()
    labelable = [] if viewer is None else [app for app in apps if viewer.can_label(app)]
    if viewer is None or not labelable:
        _flash("error", "Claiming needs a reviewer's grant of an app here. Nothing was claimed.")
        return
    lease = timedelta(minutes=load_settings().review_lease_minutes)
    try:
        conn = connection()  # revalidated: the page's connection may have dropped meanwhile
        with translate_errors(), conn.transaction():
            if current is not None:
                review.release(conn, current, viewer.name)
            row = review.claim_next(conn, viewer.name, labelable, filters, lease,
                                    skip=[] if current is None else [current])  # fmt: skip
    except VigilError as err:
        _flash("error", f"{escape(str(err))} Nothing was claimed.")
        return
    _show_item(None if row is None else row["id"])
    if row is None:
        _flash("info", "Nothing left to claim here: every pending item is labeled or held.")


def _label(item: dict[str, Any], label: str) -> None:
    """Label the item as shown: a label someone else set since is not overwritten."""
    viewer = _labeler(item["app"], "label")
    if viewer is None:
        return
    note = st.session_state.get("review_note", "").strip() or None
    corrected = st.session_state.get("review_corrected", "").strip() or None
    try:
        conn = connection()
        with translate_errors():
            review.label(conn, item["id"], reviewer=viewer.name, label=label,
                         seen_label=item["label_id"], note=note,
                         corrected_answer=corrected)  # fmt: skip
    except review.LabeledMeanwhile as err:
        _show_item(None)  # off the screen: relabeling it is a deliberate reopen
        _flash("error", f"Item #{item['id']}: {escape(str(err))} Nothing was saved.")
        return
    except VigilError as err:
        _flash("error", f"{escape(str(err))} Nothing was saved.")
        return
    again = "relabeled" if item["status"] == "labeled" else "labeled"
    _flash("success", f"Item #{item['id']} {again} {label!r} by {escape(viewer.name)}.")


def _release(item: dict[str, Any]) -> None:
    viewer = _labeler(item["app"], "give back")
    if viewer is None:
        return
    try:
        with translate_errors():
            review.release(connection(), item["id"], viewer.name)
    except VigilError as err:
        _flash("error", f"{escape(str(err))} Nothing was given back.")
        return
    _show_item(None)
    _flash("info", f"Item #{item['id']} is back in the queue.")


def _add_golden(item: dict[str, Any]) -> None:
    """Keep the trace as a reviewed example and add it to the golden dataset named in the
    sidebar, as its next version (unchanged when it is there already), in one transaction."""
    viewer = _labeler(item["app"], "add")
    if viewer is None:
        return
    name = st.session_state.get(GOLDEN, DEFAULT_GOLDEN).strip()
    trace = escape(item["trace_id"])
    if not is_dataset_name(name):
        _flash("error", f"{escape(repr(name))} is not a dataset name: {NAME_RULE}. "
                        "Nothing was saved.")  # fmt: skip
        return
    try:
        conn = connection()
        with translate_errors(), conn.transaction():
            review.add_reviewed_example(conn, item["id"], added_by=viewer.name)
            added = add_reviewed(conn, name, by=viewer.name, trace_ids=[item["trace_id"]])
            version = added.version
            if version is None:  # another review of the trace, labeled later, has no reference
                raise VigilError(
                    f"Trace {item['trace_id']}'s latest label gives no reference answer: "
                    "give a corrected answer, or label it correct."
                )
    except VigilError as err:
        _flash("error", f"{escape(str(err))} Nothing was saved.")
        return
    label = escape(version.label)
    if not version.created:
        _flash("info", f"Trace {trace} is already in {label} (unchanged).")
    elif added.replaced:
        _flash("success", f"Trace {trace} updated in golden dataset {label} (its review "
                          "changed).")  # fmt: skip
    else:
        _flash("success", f"Trace {trace} added to golden dataset {label}.")


def _golden_dataset(labelable: list[str]) -> None:
    """Which dataset "Add to golden dataset" adds to: a name typed, or an existing one."""
    if not labelable:
        return
    st.session_state.setdefault(GOLDEN, DEFAULT_GOLDEN)
    with st.sidebar:
        st.subheader("Golden dataset")
        st.text_input("Add to dataset", key=GOLDEN, max_chars=100,
                      help="Key G adds the item on screen to it, as a new version.")  # fmt: skip
        names = [d["name"] for d in datasets.listing(conn)]
        if names:
            st.selectbox("Or pick one", [None, *names], key="golden_dataset_pick",
                         format_func=lambda n: n or "(existing datasets)",
                         on_change=_pick_golden)  # fmt: skip
        if not is_dataset_name(st.session_state[GOLDEN].strip()):
            st.error(f"Not a dataset name: {NAME_RULE}.")


def _pick_golden() -> None:
    picked = st.session_state.get("golden_dataset_pick")
    if picked:
        st.session_state[GOLDEN] = picked


def _filters(choices: dict[str, list[Any]]) -> review.Filters:
    with st.sidebar:
        st.subheader("Review filters")
        app = st.selectbox("App", [None, *choices["apps"]], format_func=lambda a: a or "Any app",
                           key="review_f_app")  # fmt: skip
        kind = st.radio("Items", list(KINDS), key="review_f_kind")
        regression = st.selectbox(
            "Regression", [None, *choices["regressions"]], key="review_f_regression",
            format_func=lambda r: "Any regression" if r is None else f"#{r}",
        )  # fmt: skip
        evaluator = st.selectbox(
            "Evaluator", [None, *choices["evaluators"]], key="review_f_evaluator",
            format_func=lambda e: e or "Any evaluator",
        )  # fmt: skip
    return review.Filters(app=app, regression_id=regression, evaluator=evaluator,
                          audit=KINDS[kind])  # fmt: skip


def _trace(trace: Trace) -> None:
    st.markdown("**Question**")
    st.text(trace.input or "(no input recorded)")
    st.markdown(f"**Retrieved chunks** ({len(trace.retrievals)})")
    for chunk in sorted(trace.retrievals, key=lambda c: c.rank or 0):
        score = "no score" if chunk.score is None else f"retrieval score {chunk.score:.3f}"
        with st.expander(f"#{chunk.rank} {escape(chunk.document_id or '')} · {score}"):
            st.text(chunk.content)


def _answer(answer: str, rows: list[dict[str, Any]]) -> None:
    """The answer, with each groundedness evaluator's unsupported sentences highlighted."""
    st.markdown("**Answer**")
    details = [(r["evaluator"], unsupported_sentences(r["metadata"])) for r in rows]
    flagged = [(name, found) for name, found in details if found]
    if not flagged:
        st.text(answer or "(no output recorded)")
        return
    for name, found in flagged:
        st.caption(f"Sentences {escape(name)} found unsupported are highlighted")
        st.markdown(highlighted_answer(answer, found))
        for n, sentence in enumerate(found, start=1):
            terms = escape(", ".join(sentence.missing))
            missing = f" · not in the context: {terms}" if terms else ""
            st.markdown(f"**\\[{n}\\]** {escape(sentence.sentence)} · score "
                        f"{sentence.score:.2f}{missing}")  # fmt: skip
            window = escape(sentence.evidence) if sentence.evidence else "*(nothing matched)*"
            st.markdown(f"> matched context: {window}")


def _scores(rows: list[dict[str, Any]]) -> None:
    st.markdown("**Evaluators**")
    columns = ["evaluator", "evaluator_version", "status", "value", "label", "measure", "unit",
               "explanation"]  # fmt: skip
    table = [{**row, "unit": (row["metadata"] or {}).get("unit")} for row in rows]
    st.dataframe(pd.DataFrame(table, columns=columns), hide_index=True)
    for row in rows:
        details = {
            k: v for k, v in (row["metadata"] or {}).items() if k in ("reasons", "sentences")
        }
        if row["evaluator"].startswith("judge") and details:
            with st.expander(f"{escape(row['evaluator'])}: the judge's reasons"):
                st.json(details)


def _label_controls(viewer: access.Viewer, item: dict[str, Any]) -> None:
    if not viewer.can_label(item["app"]):
        st.info(f"You can read the items of {escape(item['app'])}; labeling them needs a "
                "reviewer's grant.")  # fmt: skip
        return
    st.markdown("**Label**" + (" (relabel: the earlier labels are kept)" if item["label"] else ""))
    for column, label in zip(st.columns(len(review.LABELS)), review.LABELS, strict=True):
        column.button(
            label, key=f"review_label_{label}", shortcut=SHORTCUTS[label], on_click=_label,
            args=(item, label), type="primary" if item["label"] == label else "secondary",
        )  # fmt: skip
    st.text_area("Note", key="review_note")
    st.text_area("Corrected answer (optional)", key="review_corrected")
    left, right = st.columns(2)
    left.button("Add to golden dataset", key="review_golden", shortcut="G",
                on_click=_add_golden, args=(item,))  # fmt: skip
    if item["status"] == "pending" and item["claimed_by"] == viewer.name:
        right.button("Give back", key="review_release", on_click=_release,
                     args=(item,))  # fmt: skip


def _history(item_id: int) -> None:
    history = review.label_history(conn, item_id)
    if history:
        st.markdown("**Label history**")
        st.dataframe(
            pd.DataFrame(history, columns=["labeled_at", "reviewer", "label", "note",
                                           "corrected_answer"]),
            hide_index=True,
        )  # fmt: skip


def _item(viewer: access.Viewer, item: dict[str, Any]) -> None:
    st.subheader(f"Item #{item['id']} · {escape(item['app'])} · {escape(item['trace_id'])}")
    st.caption(" · ".join(escape(t) for t in [item["reason"], item.get("regression")] if t))
    if item["status"] == "labeled":
        st.caption(f"Labeled {item['label']!r} by {escape(item['reviewer'])}")  # a known label
    elif item["claimed_by"]:
        until = item["lease_expires_at"].astimezone(UTC)
        st.caption(f"Claimed by {escape(item['claimed_by'])} until {until:%H:%M} UTC")
    found = traces.load_traces(conn, [item["trace_id"]])
    if not found:
        st.warning(f"Trace {escape(item['trace_id'])} is no longer stored.")
        return
    rows = scores.scores_for_trace(conn, item["trace_id"])
    _trace(found[0])
    _answer(found[0].output or "", rows)
    _scores(rows)
    _label_controls(viewer, item)
    _history(item["id"])


viewer = access.current()
conn = connection()
st.title("Review queue")
if FLASH in st.session_state:
    kind, message = st.session_state.pop(FLASH)
    {"success": st.success, "info": st.info}.get(kind, st.error)(message)

visible = viewer.app_list()
choices = review.filter_choices(conn, visible)
filters = _filters(choices)
labelable = [app for app in choices["apps"] if viewer.can_label(app)]
_golden_dataset(labelable)
pending = review.list_items(conn, apps=visible, filters=filters)

if ITEM not in st.session_state:
    held = review.current_claim(conn, viewer.name, visible)
    st.session_state[ITEM] = None if held is None else held["id"]
item_id: int | None = st.session_state[ITEM]
shown = None if item_id is None else review.item(conn, item_id, visible)

st.button(
    "Next item" if shown else "Claim next", key="review_next", shortcut="N", type="primary",
    on_click=_claim_next, disabled=not labelable,
    args=(labelable, filters, shown["id"] if shown else None),
    help="The highest-priority item nobody holds: regression items worst score first, then "
    "the audit sample. It is yours for the lease; an unlabeled item goes back when you move on.",
)  # fmt: skip
st.caption(f"{len(pending)} pending item(s) in this view")
if shown:
    _item(viewer, shown)
elif pending:
    st.dataframe(
        pd.DataFrame(pending, columns=["id", "app", "evaluator", "score", "reason", "trace_id",
                                       "claimed_by"]),
        hide_index=True,
    )  # fmt: skip
elif visible == []:
    st.info(
        "You were granted no app, so there is nothing to review. Ask an admin to grant you one "
        "(`vigil users grant NAME --app APP`)."
    )
elif filters != review.Filters():
    st.info("Nothing pending matches these filters: widen them in the sidebar.")
else:
    st.info(
        "Nothing to review. Items arrive when a regression is detected (its worst traces, "
        "`VIGIL_REVIEW_PER_REGRESSION`), plus a daily audit sample of scored traces "
        "(`VIGIL_REVIEW_AUDIT_PER_DAY`). For a seeded world to try the queue on, run "
        "`vigil demo`."
    )

if st.toggle("Show labeled items", key="review_show_labeled"):
    labeled = review.list_items(conn, status="labeled", apps=visible, filters=filters)
    st.dataframe(
        pd.DataFrame(labeled, columns=["id", "trace_id", "evaluator", "score", "label",
                                       "reviewer", "labeled_at", "note"]),
        hide_index=True,
    )  # fmt: skip
    if labeled:
        again = st.selectbox("Open a labeled item (to relabel it)", [r["id"] for r in labeled],
                             key="review_open")  # fmt: skip
        st.button("Open", key="review_open_button", on_click=_show_item, args=(again,))
