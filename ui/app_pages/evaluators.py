"""Evaluators: the judge against the people. Per evaluator version and week, its agreement
with reviewers' labels (precision and recall of "score < threshold" for bad traces, Cohen's
kappa), and the threshold the labels suggest, with the count it rests on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from evaluators import agreement
from ui import access
from ui.data import Connection, connection
from vigil.settings import load_settings
from vigil.store import calibration

WEEKS = 12
CACHE_TTL_S = 60  # labels arrive by the hour: a minute-old table is fresh enough


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _labelled_scores(
    _conn: Connection, apps: tuple[str, ...] | None, audit_only: bool
) -> list[dict]:
    """The last ``WEEKS`` weeks' labelled scores of ``apps`` (None: every app), cached a
    minute per (apps, audit_only): two viewers share an entry only when granted the same
    apps."""
    end = datetime.now(UTC)
    return calibration.labelled_scores(_conn, end - timedelta(weeks=WEEKS), end,
                                       None if apps is None else list(apps),
                                       audit_only=audit_only)  # fmt: skip


def _pairs(rows: list[dict]) -> dict[tuple[str, str], list[tuple[datetime, float, bool]]]:
    """(evaluator, version) -> (week, score, labelled bad), labels that say nothing left out."""
    out: dict[tuple[str, str], list[tuple[datetime, float, bool]]] = {}
    for r in rows:
        bad = agreement.label_class(r["evaluator"], r["label"])
        if bad is not None:
            key = (r["evaluator"], r["evaluator_version"])
            out.setdefault(key, []).append((r["week"], float(r["value"]), bad))
    return out


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


viewer = access.current()
conn = connection()
st.title("Evaluators")
st.caption(
    "How each evaluator agrees with the reviewers. An evaluator flags a trace when its score "
    "is below the threshold. Correct means good; bad is unsafe for the safety evaluators, "
    "hallucinated for groundedness, irrelevant for answer relevance, bad_retrieval or "
    "irrelevant for the retrieval evaluators; other labels are left out for that evaluator. "
    "Evaluators no label speaks to (reference metrics, `judge:<criterion>`, latency, "
    "tokens, cost) are not shown. The table is at most a minute old."
)
left, right = st.columns(2)
threshold = left.number_input("Threshold", 0.0, 1.0, load_settings().detect_threshold, 0.05,
                              key="evaluators_threshold",
                              help="VIGIL_DETECT_THRESHOLD by default")  # fmt: skip
audit_only = right.toggle("Audit sample only", key="evaluators_audit",
                          help="Only the daily random sample: no score chose them")  # fmt: skip
apps = viewer.app_list()
rows = _labelled_scores(conn, None if apps is None else tuple(sorted(apps)), audit_only)
pairs = _pairs(rows)
if not rows:
    st.info(
        f"No labels yet (on scored traces, last {WEEKS} weeks): label items in the Review "
        "queue; the daily audit sample feeds this page, with the regressions' traces unless "
        "only the audit sample is shown.",
        icon=":material/rate_review:",
    )
    st.stop()
if not pairs:
    st.info(
        "No label yet says anything about an evaluator scored here: a label counts for the "
        "evaluators that judge what it names (see the caption above).",
    )
    st.stop()

summary, weekly = [], []
for (name, version), items in sorted(pairs.items()):
    values, bad = [v for _, v, _ in items], [b for _, _, b in items]
    overall = agreement.agreement(values, bad, threshold)
    suggestion = agreement.suggest_threshold(values, bad)
    summary.append({
        "evaluator": f"{name} {version}", "labels": overall.n, "bad": overall.bad,
        "precision": _fmt(overall.precision), "recall": _fmt(overall.recall),
        "kappa": _fmt(overall.kappa), "ROC-AUC": _fmt(overall.roc_auc),
        "suggested threshold": _fmt(suggestion.threshold) if suggestion.threshold is not None
        else f"none ({suggestion.reason})",
        "rests on": suggestion.n,
    })  # fmt: skip
    for week in sorted({w for w, _, _ in items}):
        inside = [(v, b) for w, v, b in items if w == week]
        a = agreement.agreement([v for v, _ in inside], [b for _, b in inside], threshold)
        weekly.append({"week": week, "evaluator": f"{name} {version}", "kappa": a.kappa,
                       "precision": a.precision, "recall": a.recall, "labels": a.n})  # fmt: skip

st.subheader(f"At threshold {threshold:g}, last {WEEKS} weeks")
st.dataframe(pd.DataFrame(summary), hide_index=True)
st.caption(
    f"A threshold is suggested (maximising recall minus false-positive rate, Youden's J) from "
    f"{agreement.MIN_LABELS} labelled scores on, with both good and bad labels."
)

st.subheader("Agreement per week")
by_week = pd.DataFrame(weekly).melt(id_vars=["week", "evaluator", "labels"],
                                    value_vars=["kappa", "precision", "recall"],
                                    var_name="measure").dropna(subset=["value"])  # fmt: skip
st.altair_chart(
    alt.Chart(by_week).mark_line(point=True).encode(
        x=alt.X("week:T", title=None), y=alt.Y("value:Q", title=None),
        color=alt.Color("evaluator:N", title=None),
        tooltip=["evaluator:N", "measure:N", alt.Tooltip("value:Q", format=".2f"), "labels:Q"],
    ).properties(width=280, height=200).facet(column=alt.Column("measure:N", title=None))
)  # fmt: skip
st.caption("A falling kappa line: the evaluator and the reviewers agree less than before.")
