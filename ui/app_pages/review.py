"""Review queue: the worst-scoring traces of each regression, for a person to label."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.data import connection
from vigil.db import translate_errors
from vigil.errors import VigilError
from vigil.store import review, scores, traces

FLASH = "review_flash"


def _submit(item_id: int) -> None:
    """Store the form's label for ``item_id``; runs before the page redraws."""
    reviewer: str = st.session_state.get("review_reviewer", "").strip()
    note: str = st.session_state.get("review_note", "").strip()
    label: str = st.session_state["review_label"]
    if not reviewer:
        st.session_state[FLASH] = (
            "error",
            "Enter your name as reviewer: every label records who set it. Nothing was saved.",
        )
        return
    try:
        conn = connection()  # revalidated: the page's connection may have dropped meanwhile
        with translate_errors(), conn.transaction():
            review.label_item(conn, item_id, label=label, reviewer=reviewer, note=note or None)
    except VigilError as err:
        st.session_state[FLASH] = ("error", f"{err} Nothing was saved.")
        return
    st.session_state[FLASH] = ("success", f"Item #{item_id} labeled {label!r} by {reviewer}.")
    st.session_state["review_note"] = ""


def _item_label(item: dict[str, Any]) -> str:
    score = "—" if item["score"] is None else f"{item['score']:.2f}"
    return f"#{item['id']} · {item['evaluator']} {score} · {item['app']} · {item['trace_id']}"


conn = connection()
st.title("Review queue")
if FLASH in st.session_state:
    kind, message = st.session_state.pop(FLASH)
    (st.success if kind == "success" else st.error)(message)

pending = review.list_items(conn, status="pending")
if not pending:
    st.info("Nothing to review: the queue fills with the worst traces of each regression.")
else:
    st.dataframe(
        pd.DataFrame(pending, columns=["id", "app", "evaluator", "score", "reason", "trace_id"]),
        hide_index=True,
    )
    by_id = {item["id"]: item for item in pending}
    item = by_id[
        st.selectbox(
            "Item", list(by_id), format_func=lambda i: _item_label(by_id[i]), key="review_item"
        )
    ]
    trace = traces.load_traces(conn, [item["trace_id"]])[0]

    st.markdown("**Question**")
    st.text(trace.input or "(no input recorded)")
    st.markdown(f"**Retrieved contexts** ({len(trace.retrievals)})")
    for chunk in sorted(trace.retrievals, key=lambda c: c.rank or 0):
        with st.expander(f"#{chunk.rank} {chunk.document_id or ''}".strip()):
            st.text(chunk.content)
    st.markdown("**Answer**")
    st.text(trace.output or "(no output recorded)")
    st.markdown("**Scores**")
    st.dataframe(
        pd.DataFrame(
            [
                {**row, "unit": (row["metadata"] or {}).get("unit")}
                for row in scores.scores_for_trace(conn, trace.id)
            ],
            columns=[
                "evaluator",
                "evaluator_version",
                "status",
                "value",
                "label",
                "measure",
                "unit",
                "explanation",
            ],
        ),
        hide_index=True,
    )

    with st.form("review_form", clear_on_submit=False):
        st.radio("Label", review.LABELS, key="review_label", horizontal=True)
        st.text_area("Note", key="review_note")
        st.text_input("Reviewer (your name)", key="review_reviewer")
        st.form_submit_button(
            "Save label", key="review_submit", on_click=_submit, args=(item["id"],)
        )

if st.toggle("Show labeled items", key="review_show_labeled"):
    labeled = review.list_items(conn, status="labeled")
    st.dataframe(
        pd.DataFrame(
            labeled,
            columns=[
                "id",
                "trace_id",
                "evaluator",
                "score",
                "label",
                "reviewer",
                "labeled_at",
                "note",
            ],
        ),
        hide_index=True,
    )
