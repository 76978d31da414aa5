"""Regressions: metrics that got worse against their baseline, the segment that explains
each one, and the evidence (distributions before and after, the test, its q-value)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from ui import access, signin
from ui.access import Viewer
from ui.data import connection
from vigil.errors import VigilError
from vigil.store import regressions

FLASH = "regressions_flash"


def _metric(reg: dict[str, Any]) -> str:
    return reg["metric"] + (f" · {reg['evaluator']}" if reg["evaluator"] else "")


def _segment(reg: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in reg["segment"].items()) or "whole app"


def _effect(reg: dict[str, Any]) -> str:
    relative = reg["evidence"].get("relative", False)
    return f"{reg['effect']:.0%}" if relative else f"{reg['effect']:.3f}"


def _label(reg: dict[str, Any]) -> str:
    return f"#{reg['id']} {reg['app']} · {_metric(reg)} · {_segment(reg)} ({reg['status']})"


def _linked(value: str | None, by_id: dict[int, dict[str, Any]], viewer: Viewer) -> int | None:
    """The regression an alert links to, added to the list if the filter hid it (only one
    of the viewer's apps: another app's reads as not found)."""
    if value is None or not value.isdigit():
        return None
    if int(value) not in by_id:
        try:
            by_id[int(value)] = regressions.get_regression(
                connection(), int(value), apps=viewer.app_list()
            )
        except VigilError:
            st.warning(
                f"Regression #{value} from the link does not exist (any more), or its app "
                "is not granted to you."
            )
            return None
    return int(value)


def _set_status(reg: dict[str, Any], status: str) -> None:
    viewer = signin.acting()  # as the users table says now, not as of the last run
    if viewer is None or not viewer.can_label(reg["app"]):  # the buttons are hidden then
        st.session_state[FLASH] = f"Only reviewers of {reg['app']} can do that."
        return
    regressions.set_regression_status(connection(), reg["id"], status, by=viewer.name)
    st.session_state[FLASH] = f"Regression #{reg['id']} marked {status} by {viewer.name}."


def _examples(reg_id: int) -> None:
    """The traces that show it (those queued for review), each a link to the explorer."""
    rows = regressions.example_traces(connection(), reg_id)
    if not rows:
        return
    st.markdown("**Example traces** (worst first; open one in the explorer)")
    st.dataframe(
        pd.DataFrame(
            {
                "trace": f"/traces?trace={quote(r['trace_id'], safe='')}",
                "score": r["score"],
                "review": r["review"],
                "time": f"{r['start_time']:%Y-%m-%d %H:%M}",
                "question": r["input"],
            }
            for r in rows
        ),
        hide_index=True,
        column_config={
            "trace": st.column_config.LinkColumn("trace", display_text=r"/traces\?trace=(.*)"),
            "score": st.column_config.NumberColumn("score", format="%.2f"),
        },
        key="regression_examples",
    )


def _who(reg: dict[str, Any]) -> str:
    parts = []
    if reg["acknowledged_by"]:
        parts.append(
            f"acknowledged by {reg['acknowledged_by']} {reg['acknowledged_at']:%Y-%m-%d %H:%M}"
        )
    if reg["status"] == "resolved" and reg["resolved_at"] is not None:
        by = f" by {reg['resolved_by']}" if reg["resolved_by"] else " (clean windows)"
        parts.append(f"resolved{by} {reg['resolved_at']:%Y-%m-%d %H:%M}")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


viewer = access.current()
conn = connection()
st.title("Regressions")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))

shown = st.selectbox("Status", ["all", *regressions.STATUSES], key="regressions_status")
regs = regressions.list_regressions(
    conn, status=None if shown == "all" else shown, apps=viewer.app_list()
)
if not regs:
    st.info(
        "No regressions here. The detector records one when a metric (a score, a rate of "
        "low scores, cost, tokens, latency, errors) gets significantly worse than its baseline."
    )
    st.stop()

st.dataframe(
    pd.DataFrame(
        {
            "id": r["id"],
            "app": r["app"],
            "metric": _metric(r),
            "segment": _segment(r),
            "baseline → window": f"{r['baseline_mean']:.4g} → {r['window_mean']:.4g}",
            "worse by": _effect(r),
            "q": r["q_value"],
            "explained by": (r["attribution"] or [{}])[0].get("text", ""),
            "last seen": f"{r['last_seen']:%Y-%m-%d %H:%M}",
            "status": r["status"],
            "pending reviews": r["pending_reviews"],
        }
        for r in regs
    ),
    hide_index=True,
    key="regressions_table",
)

by_id = {r["id"]: r for r in regs}
linked = _linked(
    st.query_params.get("regression"), by_id, viewer
)  # an alert's link: ?regression=ID
picked = st.selectbox(
    "Regression",
    list(by_id),
    index=list(by_id).index(linked) if linked is not None else 0,
    format_func=lambda i: _label(by_id[i]),
    key="regression_pick",
)
reg = by_id[picked]
evidence: dict[str, Any] = reg["evidence"]

st.subheader(f"{reg['app']} · {_metric(reg)} {reg['evaluator_version']}")
st.markdown(reg["headline"] or "")
st.caption(
    f"{evidence.get('test', '')} against {evidence.get('against', 'its baseline')}: "
    f"p = {reg['p_value']:.2g}, q = {reg['q_value']:.2g}; n = {reg['baseline_n']} → "
    f"{reg['window_n']}. First seen {reg['first_seen']:%Y-%m-%d %H:%M}, last seen "
    f"{reg['last_seen']:%Y-%m-%d %H:%M}; clean windows since: {reg['clean_windows']}."
)

st.markdown("**What explains it** (share of the change, by segment)")
st.dataframe(
    pd.DataFrame(
        [
            {
                "segment": ", ".join(f"{k}={v}" for k, v in a["segment"].items()),
                "explains": f"{max(0.0, min(a['explains'], 1.0)):.0%}",
                "traffic": f"{a['traffic']:.0%}",
                "baseline": "new" if a["baseline"] is None else f"{a['baseline']:.4g}",
                "window": f"{a['window']:.4g}",
            }
            for a in reg["attribution"]
        ],
        columns=["segment", "explains", "traffic", "baseline", "window"],
    ),
    hide_index=True,
    key="regression_attribution",
)

before, after = evidence.get("baseline", {}), evidence.get("window", {})
if before.get("quantiles") and after.get("quantiles"):
    st.markdown("**Distribution before and after**")
    st.dataframe(
        pd.DataFrame({"baseline": before["quantiles"], "window": after["quantiles"]}),
        key="regression_quantiles",
    )
for cluster in evidence.get("clusters", []):
    st.markdown(f"**New questions** ({cluster['size']}):")
    st.markdown("\n".join(f"- {q}" for q in cluster["examples"]))
growth = evidence.get("growth")
if growth:
    sizes = growth["sizes"]
    st.markdown(
        f"**The {growth['grew']} grew**: input tokens {sizes['tokens_in'][0] or 0:.0f} → "
        f"{sizes['tokens_in'][1] or 0:.0f}, output tokens {sizes['tokens_out'][0] or 0:.0f} → "
        f"{sizes['tokens_out'][1] or 0:.0f}, retrieved chunks {sizes['chunks'][0] or 0:.1f} → "
        f"{sizes['chunks'][1] or 0:.1f}."
    )
    for c in growth["changed"]:
        st.caption(f"{c['key']}={c['value']}: {c['before']:.0%} → {c['after']:.0%} of traffic")

_examples(reg["id"])

if _who(reg):
    st.caption(_who(reg))
if not viewer.can_label(reg["app"]):
    st.caption(f"Acknowledging and resolving need the reviewer role on {reg['app']}.")
    st.stop()
ack, resolve = st.columns(2)
ack.button(
    "Acknowledge",
    key="regression_ack",
    disabled=reg["status"] != "open",
    on_click=_set_status,
    args=(reg, "acknowledged"),
)
resolve.button(
    "Resolve",
    key="regression_resolve",
    disabled=reg["status"] == "resolved",
    on_click=_set_status,
    args=(reg, "resolved"),
)
