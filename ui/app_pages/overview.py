"""Overview: quality per evaluator, cost per request and p95 latency on one time axis, with
a marker where a model or prompt version first appears; tokens by model and prompt
version; the open regressions; the SLOs' budget left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from ui import access, hints
from ui.data import Connection, connection
from ui.review_view import escape
from vigil import slo as slos
from vigil.errors import VigilError
from vigil.settings import load_settings
from vigil.store import rollups, views
from vigil.store import slo as slo_store

RANGES: dict[str, tuple[int, views.Bucket]] = {
    "Last 24 hours": (1, "hour"), "Last 7 days": (7, "day"), "Last 30 days": (30, "day"),
    "Last 90 days": (90, "day"), "Last 365 days": (365, "day"),
}  # fmt: skip
WIDTH = 900
CACHE_TTL_S = 60  # the charts' points move by the hour or the day: a minute old is fresh


@st.cache_data(ttl=CACHE_TTL_S, max_entries=256, show_spinner=False)
def _chart_data(
    _conn: Connection, apps: tuple[str, ...] | None, start: datetime, bucket: views.Bucket
) -> dict[str, list[dict]]:
    """The charts' rows from ``start`` to now for ``apps`` (None: every app), cached a minute
    per (apps, start, bucket): two viewers share an entry only when they see the same apps."""
    shown, end = None if apps is None else list(apps), datetime.now(UTC)
    return {
        "quality": views.quality(_conn, start, end, bucket, shown),
        "traffic": views.traffic(_conn, start, end, bucket, shown),
        "tokens": views.tokens(_conn, start, end, bucket, shown),
        "first_seen": views.first_seen(_conn, shown),
    }


def _window(days: int, bucket: views.Bucket, now: datetime) -> tuple[datetime, datetime]:
    """Hourly: the last ``days`` * 24 hours to the current hour; daily: whole UTC days."""
    if bucket == "hour":
        return now.replace(minute=0, second=0, microsecond=0) - timedelta(days=days), now
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1), now


def _axis(start: datetime, end: datetime) -> alt.X:
    return alt.X(
        "bucket:T", title=None, scale=alt.Scale(domain=[start.isoformat(), end.isoformat()])
    )


def _markers(firsts: list[dict], start: datetime, end: datetime) -> pd.DataFrame:
    rows = [
        {"bucket": f["first_seen"], "what": f"{f['app']}: {f['kind']} {f['value']}"}
        for f in firsts
        if start <= f["first_seen"] < end
    ]
    return pd.DataFrame(rows, columns=["bucket", "what"])


def _panel(data: pd.DataFrame, y: alt.Y, x: alt.X, rules: pd.DataFrame,
           color: str | None = None) -> alt.LayerChart | alt.FacetChart:  # fmt: skip
    line = alt.Chart(data).mark_line(point=True).encode(x=x, y=y)
    if color:
        line = line.encode(color=alt.Color(f"{color}:N", title=None))
    rule = (
        alt.Chart(rules)
        .mark_rule(strokeDash=[4, 3], color="gray")
        .encode(x=x, tooltip=["what:N", alt.Tooltip("bucket:T", format="%Y-%m-%d %H:%M")])
    )
    return alt.layer(line, rule).properties(width=WIDTH, height=160)


viewer = access.current()
conn = connection()
st.title("Overview")

rollups.refresh(conn)  # the app list, counts and charts read the daily rollups
visible = [a for a in views.app_names(conn) if viewer.can_see(a)]
left, right = st.columns(2)
app = left.selectbox("App", ["All apps", *visible], key="overview_app")
apps = viewer.app_list() if app == "All apps" else [app]
days, bucket = RANGES[right.selectbox("Range", list(RANGES), index=2, key="overview_range")]
start, end = _window(days, bucket, datetime.now(UTC))

totals = views.headline(conn, apps)
by_status = views.status_counts(conn, start, end, bucket, apps)
cols = st.columns(6)
cols[0].metric("Traces", totals.traces)
cols[1].metric("Scored", by_status.get("scored", 0))
cols[2].metric("Skipped", by_status.get("skipped", 0))
cols[3].metric("Errors", by_status.get("error", 0))
cols[4].metric("Open regressions", totals.open_regressions)
cols[5].metric("Pending reviews", totals.pending_reviews)

charts = _chart_data(conn, None if apps is None else tuple(sorted(apps)), start, bucket)
quality = pd.DataFrame(charts["quality"])
traffic = pd.DataFrame(charts["traffic"])
st.subheader(f"Quality, cost and latency per {bucket}")
if not visible:
    st.info(hints.no_traces_yet(), icon=":material/rocket_launch:")
elif quality.empty and traffic.empty:
    st.info(
        "No traces or scores in this range yet: pick a longer range. Scores appear once the "
        "evaluation flow has run on the traces (`vigil runs` lists its runs)."
    )
else:
    x = _axis(start, end)
    rules = _markers(charts["first_seen"], start, end)
    panels = []
    if not quality.empty:
        quality["evaluator"] = quality["evaluator"] + " " + quality["evaluator_version"]
        quality["mean"] = quality["mean"].astype(float)
        y = alt.Y("mean:Q", title="mean score", scale=alt.Scale(domain=[0, 1]))
        panels.append(_panel(quality, y, x, rules, color="evaluator"))
    if not traffic.empty:
        for column in ("cost_per_request", "p95_latency_ms"):
            traffic[column] = traffic[column].astype(float)
        panels.append(
            _panel(traffic, alt.Y("cost_per_request:Q", title="USD per request"), x, rules)
        )
        panels.append(
            _panel(traffic, alt.Y("p95_latency_ms:Q", title="p95 latency (ms)"), x, rules)
        )
    st.altair_chart(alt.vconcat(*panels).resolve_scale(x="shared"), width="content")
    st.caption(
        "One line per evaluator and version; dashed rules: a model or prompt version's first "
        "trace. Daily points count completed traces; their p95 comes from 2%-wide latency "
        "bins (hourly points use percentile_cont on the traces). The charts are at most a "
        "minute old."
    )

st.subheader("Tokens by model and prompt version")
used = pd.DataFrame(charts["tokens"])
if used.empty:
    st.info("No traces in this range." if visible else "No traces yet.")
else:
    used["version"] = used["model"] + " · " + used["prompt_version"]
    long = used.melt(id_vars=["version"], value_vars=["tokens_in", "tokens_out"],
                     var_name="direction", value_name="tokens")  # fmt: skip
    st.altair_chart(
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("version:N", title="model · prompt version"),
            x=alt.X("tokens:Q", title="tokens"),
            color=alt.Color("direction:N", title=None),
            yOffset="direction:N",
        )
        .properties(width=WIDTH)
    )

st.subheader("Open regressions")
open_regs = views.open_regressions(conn, apps)
if not open_regs:
    st.success("No open regressions.")
for reg in open_regs:
    what = reg["headline"] or f"{reg['metric']} {reg['evaluator'] or ''}".strip()
    st.markdown(f"[#{reg['id']}](/regressions?regression={reg['id']}) **{escape(reg['app'])}**"
                f" · {escape(what)} · {reg['status']}, last seen "
                f"{reg['last_seen']:%Y-%m-%d %H:%M}")  # fmt: skip

settings = load_settings()
if settings.slo_file is not None:
    st.subheader("SLO budget left")
    try:
        defined = slos.load(settings.slo_file).slos
    except VigilError as err:
        st.error(str(err), icon=":material/error:")
        defined = []
    now = datetime.now(UTC)
    shown = [s for s in defined if apps is None or s.app in apps]
    budget = []
    for s in shown:
        good, total = slo_store.over_period(conn, s, now)
        left_share = slos.budget_left(s, good, total)
        budget.append({"SLO": s.name, "objective": s.describe(), "events": total,
                       "good": good, "budget left": "no events yet" if left_share is None
                       else f"{left_share:.0%}"})  # fmt: skip
    if budget:
        st.dataframe(pd.DataFrame(budget), hide_index=True)
    elif defined:
        st.info("No SLO covers the apps shown.")
