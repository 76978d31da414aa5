"""Evaluation runs: the most recent scheduled, backfill and ad hoc runs, and their progress."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import access
from ui.data import connection
from vigil.store import runs

viewer = access.current()
conn = connection()
st.title("Evaluation runs")

recent = runs.recent_runs(conn, limit=50, apps=viewer.app_list())
if not recent:
    st.info("No evaluation runs yet. A run appears here as soon as the evaluation flow starts.")
    st.stop()

table = pd.DataFrame(recent)
table["app"] = table["app"].fillna("(every app)")
table["progress"] = [
    r["traces_done"] / r["traces_total"] if r["traces_total"] else 0.0 for r in recent
]
st.dataframe(
    table[
        [
            "id",
            "kind",
            "app",
            "status",
            "window_start",
            "window_end",
            "progress",
            "traces_done",
            "traces_total",
            "scored",
            "skipped",
            "errors",
            "cost_usd",
            "judge_tokens",
            "started_at",
            "finished_at",
            "message",
        ]
    ],
    hide_index=True,
    column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0),
        "cost_usd": st.column_config.NumberColumn("judge cost (USD)", format="%.4f"),
        "judge_tokens": st.column_config.NumberColumn("judge tokens", format="%d"),
    },
)
