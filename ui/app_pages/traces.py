"""Traces: find traces by time, app, segment, model, prompt version, scores, label and
status, page through them newest first, and open one: its span waterfall, attributes,
retrieved chunks, scores, labels and the regressions it belongs to. ``?trace=ID`` opens a
trace directly (alerts and the CLI print such links)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ui import access, hints
from ui.data import connection
from ui.review_view import escape
from vigil.store import explorer, partitions, rollups
from vigil.store.review import LABELS

PAGE_SIZE = 50
PERIODS = {
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
    "Custom dates": None,
}
PAGING = "traces_paging"  # None (newest), ("after", cursor) or ("before", cursor)
SHOWN = "traces_shown"  # the filters the paging belongs to
ANY = "any"


def _segment_text(segment: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items())


def _parse_segment(text: str) -> dict[str, str] | None:
    """``route=billing, tenant=acme`` as a dict; None when a part has no ``=``."""
    pairs = [part.strip() for part in text.split(",") if part.strip()]
    if any("=" not in p or not p.split("=", 1)[0].strip() for p in pairs):
        return None
    return {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in pairs)}


def _time_range() -> tuple[datetime | None, datetime | None]:
    period = st.selectbox("Time range", list(PERIODS), index=2, key="traces_period")
    if period == "Custom dates":
        today = datetime.now(UTC).date()
        picked = st.date_input(
            "Dates (UTC)", (today - timedelta(days=6), today), key="traces_dates"
        )
        days = list(picked) if isinstance(picked, tuple) else [picked]
        if len(days) != 2:
            return None, None
        first, last = days
        return (datetime.combine(first, time(), UTC),
                datetime.combine(last, time(), UTC) + timedelta(days=1))  # fmt: skip
    delta = PERIODS[period]
    return (None if delta is None else datetime.now(UTC) - delta), None


def _filters(options: dict[str, list[str]]) -> explorer.Filters | None:
    """The filter widgets; None while the segment text cannot be read."""
    when, where, what = st.columns(3)
    with when:
        start, end = _time_range()
        status = st.selectbox("Status", [ANY, "ok", "error"], key="traces_status")
    with where:
        app = st.selectbox("App", [ANY, *options["apps"]], key="traces_app")
        model = st.selectbox("Model", [ANY, *options["models"]], key="traces_model")
        prompt = st.selectbox(
            "Prompt version", [ANY, *options["prompt_versions"]], key="traces_prompt"
        )
    with what:
        text = st.text_input(
            "Segment", key="traces_segment", placeholder="route=billing, tenant=acme"
        )
        label = st.selectbox("Review label", [ANY, *LABELS], key="traces_label")
        evaluators = st.multiselect("Score ranges", options["evaluators"], key="traces_evaluators")
    ranges = []
    for name in evaluators:
        low, high = st.slider(name, 0.0, 1.0, (0.0, 1.0), 0.01, key=f"traces_range_{name}")
        ranges.append(explorer.ScoreRange(name, low, high))
    segment = _parse_segment(text)
    if segment is None:
        st.warning("Write the segment as key=value pairs, separated by commas.")
        return None
    if model != ANY:
        segment["model"] = model
    if prompt != ANY:
        segment["prompt_version"] = prompt
    return explorer.Filters(
        start=start,
        end=end,
        app=None if app == ANY else app,
        segment=segment,
        scores=tuple(ranges),
        label=None if label == ANY else label,
        status=None if status == ANY else status,
    )


def _page_to(paging: tuple[str, explorer.Cursor] | None) -> None:
    st.session_state[PAGING] = paging


def _search(filters: explorer.Filters, apps: list[str] | None) -> explorer.Page:
    """The page of results the Newer/Older buttons point at; back to the newest page when
    the filters changed or nothing newer is left."""
    shown = repr(filters.__dict__ | {"start": None, "end": None})  # "last 7 days" moves on
    if st.session_state.get(SHOWN) != shown:
        st.session_state[SHOWN] = shown
        st.session_state[PAGING] = None
    paging = st.session_state.get(PAGING)
    if paging is None:
        return explorer.search(conn, filters, apps, limit=PAGE_SIZE)
    way, cursor = paging
    if way == "after":
        return explorer.search(conn, filters, apps, after=cursor, limit=PAGE_SIZE)
    page = explorer.search(conn, filters, apps, before=cursor, limit=PAGE_SIZE)
    if not page.has_newer:  # reached the top: show a full newest page
        st.session_state[PAGING] = None
        return explorer.search(conn, filters, apps, limit=PAGE_SIZE)
    return page


def _results(page: explorer.Page) -> str | None:
    """The results table and its paging buttons; the id of the row picked, if any."""
    table = pd.DataFrame(
        [
            {
                "start (UTC)": f"{t['start_time']:%Y-%m-%d %H:%M:%S}",
                "app": t["app"],
                "status": t["status"],
                "model": t["model"],
                "prompt version": t["prompt_version"],
                "segment": _segment_text(t["segment"]),
                "latency ms": t["latency_ms"],
                "input": (t["input"] or "")[:120],
                "id": t["id"],
            }
            for t in page.traces
        ],
        columns=["start (UTC)", "app", "status", "model", "prompt version", "segment",
                 "latency ms", "input", "id"],
    )  # fmt: skip
    event = st.dataframe(
        table,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key=f"traces_table_{st.session_state.get(PAGING)}",
    )
    newer, older, _ = st.columns([1, 1, 6])
    newer.button("Newer", key="traces_newer", disabled=not page.has_newer,
                 on_click=_page_to, args=(("before", page.first),))  # fmt: skip
    older.button("Older", key="traces_older", disabled=not page.has_older,
                 on_click=_page_to, args=(("after", page.last),))  # fmt: skip
    rows = event.selection.rows if event else []
    return str(table["id"].iloc[rows[0]]) if rows else None


def _waterfall(spans: list[dict[str, Any]]) -> None:
    """One bar a span, from its start offset to its end, in tree order, names indented."""
    seen: dict[str, int] = {}
    rows = []
    for s in spans:
        name = "\u00a0\u00a0\u00a0\u00a0" * s["depth"] + s["name"]
        seen[name] = seen.get(name, 0) + 1
        duration = s["duration_ms"]
        rows.append({
            "span": name if seen[name] == 1 else f"{name} ({seen[name]})",
            "kind": s["kind"],
            "status": s["status"],
            "start_ms": s["offset_ms"],
            "end_ms": s["offset_ms"] + (duration or 0.0),
            "duration": "not ended" if duration is None else f"{duration:,.0f} ms",
        })  # fmt: skip
    data = pd.DataFrame(rows)
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("start_ms:Q", title="ms since the trace started"),
            x2="end_ms:Q",
            y=alt.Y("span:N", sort=list(data["span"]), title=None, axis=alt.Axis(labelLimit=400)),
            color=alt.Color("kind:N", title="kind"),
            tooltip=["span", "kind", "status", "start_ms", "duration"],
        )
    )
    durations = bars.mark_text(align="left", dx=4).encode(text="duration:N")
    st.altair_chart((bars + durations).properties(height=28 * len(rows) + 40),
                    width="stretch")  # fmt: skip


def _number(value: float | None, unit: str, spec: str = ",.0f") -> str:
    return "?" if value is None else f"{value:{spec}}{unit}"


def _regression_line(r: dict[str, Any]) -> str:
    metric = r["metric"] + (f" · {r['evaluator']}" if r["evaluator"] else "")
    why = "queued this trace for review" if r["queued_it"] else "its segment, while it lasted"
    where = escape(_segment_text(r["segment"])) or "whole app"
    return (
        f"- [#{r['id']} {escape(metric)} · {where} "
        f"({r['status']})](/regressions?regression={r['id']}): {why}"
    )


def _trace_view(trace_id: str, apps: list[str] | None) -> None:
    detail = explorer.trace_detail(conn, trace_id, apps)
    if detail is None:
        kept = partitions.kept_from(conn)["traces"]
        dropped = (
            f" Traces that started before {kept:%Y-%m-%d} were dropped by retention"
            " (`vigil retention show`)."
            if kept is not None
            else ""
        )
        st.warning(f"No such trace: {escape(repr(trace_id))}.{dropped}")
        return
    t = detail["trace"]
    st.subheader(f"Trace {escape(t['id'])}")
    st.caption(
        f"{escape(t['app'])} · {t['start_time']:%Y-%m-%d %H:%M:%S} UTC · {t['status']} · "
        f"model {escape(t['model'] or '?')} · prompt {escape(t['prompt_version'] or '?')} · "
        f"{escape(_segment_text(t['segment'])) or 'no segment'} · "
        f"latency {_number(t['latency_ms'], ' ms')}"
        f" · tokens {t['tokens_in'] or 0} in, {t['tokens_out'] or 0} out · "
        f"cost {_number(t['cost_usd'], ' USD', '.5f')}"
    )
    asked, answered = st.columns(2)
    asked.markdown("**Input**")
    asked.text(t["input"] or "")
    answered.markdown("**Output**")
    answered.text(t["output"] or "")

    st.markdown("**Spans**")
    if detail["spans"]:
        _waterfall(detail["spans"])
    else:
        st.caption("This trace has no spans (it was sent whole, without them).")

    st.markdown("**Attributes**")
    st.json(t["attributes"], expanded=False)
    for s in detail["spans"]:
        if s["attributes"]:
            with st.expander(f"Span {escape(s['name'])} ({escape(s['span_id'])})"):
                st.json(s["attributes"])

    st.markdown("**Retrieved chunks**")
    st.dataframe(
        pd.DataFrame(detail["retrievals"],
                     columns=["span_id", "rank", "document_id", "score", "content"]),
        hide_index=True, key="trace_chunks",
    )  # fmt: skip
    st.markdown("**Scores**")
    st.dataframe(
        pd.DataFrame(detail["scores"],
                     columns=["evaluator", "evaluator_version", "status", "value", "measure",
                              "label", "explanation"]),
        hide_index=True, key="trace_scores",
    )  # fmt: skip
    st.markdown("**Labels**")
    st.dataframe(
        pd.DataFrame(detail["labels"],
                     columns=["status", "label", "reviewer", "note", "reason", "regression_id",
                              "labeled_at"]),
        hide_index=True, key="trace_labels",
    )  # fmt: skip
    st.markdown("**Regressions**")
    lines = [_regression_line(r) for r in detail["regressions"]]
    st.markdown("\n".join(lines) if lines else "None that this trace belongs to.")


viewer = access.current()
conn = connection()
apps = viewer.app_list()
st.title("Traces")

rollups.refresh(conn)  # the filter options come from the daily rollups
options = explorer.options(conn, apps)
if not options["apps"] and not explorer.any_trace(conn, apps):
    st.info(hints.no_traces_yet(), icon=":material/rocket_launch:")
    st.stop()
filters = _filters(options)
if filters is not None:
    page = _search(filters, apps)
    if page.traces:
        picked = _results(page)
        if picked is not None and picked != st.query_params.get("trace"):
            st.query_params["trace"] = picked
    else:
        st.info("No traces match these filters.")

linked = st.query_params.get("trace")
if linked:
    _trace_view(linked, apps)
