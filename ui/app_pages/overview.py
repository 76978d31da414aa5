"""Overview: how much Vigil holds, and each evaluator's daily mean score over the last 30 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from ui.data import connection
from vigil.store import scores, traces, views

DAYS = 30

conn = connection()
st.title("Overview")

totals = views.headline(conn)
by_status = scores.status_counts(conn)
cols = st.columns(6)
cols[0].metric("Traces", totals.traces)
cols[1].metric("Scored", by_status.get("scored", 0))
cols[2].metric("Skipped", by_status.get("skipped", 0))
cols[3].metric("Errors", by_status.get("error", 0))
cols[4].metric("Open regressions", totals.open_regressions)
cols[5].metric("Pending reviews", totals.pending_reviews)

st.subheader(f"Daily mean score, last {DAYS} days")
apps = traces.trace_apps(conn)
app: str | None = apps[0] if len(apps) == 1 else None
if len(apps) > 1:
    app = st.selectbox("App", apps, key="overview_app")

end = datetime.now(UTC)
daily = scores.daily_means(conn, end - timedelta(days=DAYS), end, app)
if not daily:
    st.info(
        "No scored traces in the last 30 days yet. Scores appear here once traces are "
        "ingested and the evaluation flow has run."
    )
else:
    chart = pd.DataFrame(daily)
    chart["evaluator"] = chart["evaluator"] + " " + chart["evaluator_version"]
    chart["mean"] = chart["mean"].astype(float)
    st.line_chart(chart, x="day", y="mean", color="evaluator", y_label="mean score")
    st.caption("One line per evaluator and version; days without scores are left out.")
