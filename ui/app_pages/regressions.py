"""Regressions: windows whose mean score fell below their baseline, with the evidence."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.data import connection
from vigil.store import regressions

STATUSES = ("open", "acknowledged", "resolved")
FLASH = "regressions_flash"


def _window(reg: dict[str, Any]) -> str:
    return f"{reg['window_start']:%Y-%m-%d %H:%M} → {reg['window_end']:%Y-%m-%d %H:%M}"


def _label(reg: dict[str, Any]) -> str:
    return f"#{reg['id']} {reg['app']} · {reg['evaluator']} · {_window(reg)} ({reg['status']})"


def _set_status(reg_id: int, status: str) -> None:
    regressions.set_regression_status(connection(), reg_id, status)
    st.session_state[FLASH] = f"Regression #{reg_id} marked {status}."


conn = connection()
st.title("Regressions")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))

shown = st.selectbox("Status", ["all", *STATUSES], key="regressions_status")
regs = regressions.list_regressions(conn, status=None if shown == "all" else shown)
if not regs:
    st.info(
        "No regressions here. The detector records one when a window's mean score drops "
        "significantly below its baseline."
    )
    st.stop()

st.dataframe(
    pd.DataFrame(
        {
            "id": r["id"],
            "app": r["app"],
            "evaluator": r["evaluator"],
            "version": r["evaluator_version"],
            "window": _window(r),
            "baseline → window": f"{r['baseline_mean']:.3f} → {r['window_mean']:.3f}",
            "delta": round(r["delta"], 3),
            "z": round(r["z"], 1),
            "status": r["status"],
            "pending reviews": r["pending_reviews"],
        }
        for r in regs
    ),
    hide_index=True,
    key="regressions_table",
)

by_id = {r["id"]: r for r in regs}
picked = st.selectbox(
    "Regression", list(by_id), format_func=lambda i: _label(by_id[i]), key="regression_pick"
)
reg = by_id[picked]

st.subheader(f"{reg['app']} · {reg['evaluator']} {reg['evaluator_version']}")
st.markdown(
    f"Mean **{reg['baseline_mean']:.3f} → {reg['window_mean']:.3f}** "
    f"(n = {reg['baseline_n']} → {reg['window_n']}, z = {reg['z']:.1f}) "
    f"in the window {_window(reg)}, against the baseline "
    f"{reg['baseline_start']:%Y-%m-%d} → {reg['baseline_end']:%Y-%m-%d}."
)
if reg["segment"]:
    st.caption(f"Segment: {reg['segment']}")

segments: dict[str, list[dict[str, Any]]] = reg["evidence"].get("segments", {})
if not segments:
    st.caption("No segment breakdown was stored with this regression.")
# jsonb does not keep key order: show the detector's dimensions in its order, then any other.
known = list(regressions.SEGMENT_DIMENSIONS)
order = [*known, *sorted(set(segments) - set(known))]
for dimension in (d for d in order if d in segments):
    rows = segments[dimension]
    st.markdown(f"**Mean in the window by {dimension.replace('_', ' ')}** (lowest first)")
    st.dataframe(
        pd.DataFrame(rows, columns=["value", "mean", "n"]),
        hide_index=True,
        key=f"regression_evidence_{dimension}",
    )

ack, resolve = st.columns(2)
ack.button(
    "Acknowledge",
    key="regression_ack",
    disabled=reg["status"] != "open",
    on_click=_set_status,
    args=(reg["id"], "acknowledged"),
)
resolve.button(
    "Resolve",
    key="regression_resolve",
    disabled=reg["status"] == "resolved",
    on_click=_set_status,
    args=(reg["id"], "resolved"),
)
