"""The trace explorer's reads on the real database: keyset pages, each filter, the granted
apps, one trace in full, and the example traces the CLI links to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vigil.db.types import Conn
from vigil.models import Retrieval, Score, Span, Trace
from vigil.store import explorer, regressions, review, rollups, runs, scores, traces
from vigil.store.explorer import Filters, ScoreRange

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _trace(i: int, **fields: object) -> Trace:
    values: dict[str, object] = {
        "id": f"t{i:02d}", "app": "shop", "start_time": T0 + timedelta(minutes=i),
        "input": f"question {i}", "model": "gpt-4o", "prompt_version": "v1",
        "segment": {"route": "billing"},
    }  # fmt: skip
    return Trace(**(values | fields))  # type: ignore[arg-type]


def _store(conn: Conn, items: list[Trace]) -> None:
    with conn.transaction():
        traces.insert_traces(conn, items)


def _score(conn: Conn, trace_id: str, evaluator: str, value: float, start: datetime) -> None:
    row = scores.ScoreRow(trace_id, evaluator, "1", Score.scored(value, "why"))
    scores.upsert_scores(conn, [row], run_id=None)


def _all_pages(conn: Conn, filters: Filters, apps: list[str] | None, limit: int) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = explorer.search(conn, filters, apps, after=after, limit=limit)
        pages.append([t["id"] for t in page.traces])
        assert page.has_newer == (after is not None)
        if not page.has_older:
            return pages
        after = page.last


def test_keyset_pages_return_every_trace_once_in_order_with_ties(conn: Conn) -> None:
    # 23 traces, three to a start time: the id breaks the ties
    _store(conn, [_trace(i, start_time=T0 + timedelta(minutes=i // 3)) for i in range(23)])
    expected = sorted(
        (row["id"] for row in conn.execute("SELECT id FROM traces")),
        key=lambda i: (T0 + timedelta(minutes=int(i[1:]) // 3), i),
        reverse=True,
    )

    pages = _all_pages(conn, Filters(), None, limit=5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [i for p in pages for i in p] == expected  # each once, newest first

    # and back up with ``before``: the same pages, in reverse
    page = explorer.search(
        conn, Filters(), None, after=(T0 + timedelta(minutes=3), "t09"), limit=5
    )  # a cursor on a tie: t09 is older than t10, t11 at the same minute
    assert [t["id"] for t in page.traces] == expected[expected.index("t09") + 1 :][:5]
    up = explorer.search(conn, Filters(), None, before=cursor_of_id(conn, pages[3][0]), limit=5)
    assert [t["id"] for t in up.traces] == pages[2] and up.has_newer and up.has_older
    top = explorer.search(conn, Filters(), None, before=cursor_of_id(conn, pages[1][0]), limit=5)
    assert [t["id"] for t in top.traces] == pages[0] and not top.has_newer


def cursor_of_id(conn: Conn, trace_id: str) -> explorer.Cursor:
    row = conn.execute("SELECT start_time, id FROM traces WHERE id = %s", (trace_id,)).fetchone()
    assert row is not None
    return explorer.cursor_of(row)


@pytest.mark.parametrize("walk", [True, False], ids=["walking traces", "joining scores"])
def test_each_filter_narrows_to_the_matching_traces(
    conn: Conn, walk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same traces whichever way a score range is planned (see ``WALK_PROBES``)."""
    monkeypatch.setattr(explorer, "WALK_PROBES", 10**9 if walk else 0)
    _store(conn, [
        _trace(0),
        _trace(1, app="docs", segment={"route": "search"}),
        _trace(2, model="claude", segment={"route": "billing", "tenant": "acme"}),
        _trace(3, prompt_version="v2", status="error"),
        _trace(4, start_time=T0 - timedelta(days=2)),
        _trace(5, segment={"route": "technical"}),
    ])  # fmt: skip
    for i, value in ((0, 0.1), (2, 0.5), (3, 0.95), (5, 0.3)):
        _score(conn, f"t{i:02d}", "groundedness", value, T0 + timedelta(minutes=i))
    _score(conn, "t05", "relevance", 0.9, T0 + timedelta(minutes=5))
    rid = _regression(conn, segment={})
    review.enqueue_traces(conn, regression_id=rid, trace_ids=["t00", "t05"], reason="low")
    conn.execute(  # a reviewer's label, as the review queue stores it
        "UPDATE review_items SET status = 'labeled', label = 'hallucinated', reviewer = 'ana',"
        " labeled_at = now() WHERE trace_id = 't05'"
    )

    low = Filters(scores=(ScoreRange("groundedness", 0.0, 0.4),))
    assert explorer._short_walk(conn, low, None, 50) is walk

    def ids(**fields: object) -> list[str]:
        page = explorer.search(conn, Filters(**fields), None, limit=50)  # type: ignore[arg-type]
        return sorted(t["id"] for t in page.traces)

    assert ids() == ["t00", "t01", "t02", "t03", "t04", "t05"]
    assert ids(start=T0 - timedelta(hours=1)) == ["t00", "t01", "t02", "t03", "t05"]
    assert ids(start=T0, end=T0 + timedelta(minutes=2)) == ["t00", "t01"]
    assert ids(app="docs") == ["t01"]
    assert ids(segment={"route": "billing"}) == ["t00", "t02", "t03", "t04"]
    assert ids(segment={"route": "billing", "tenant": "acme"}) == ["t02"]
    assert ids(segment={"model": "claude"}) == ["t02"]
    assert ids(segment={"prompt_version": "v2", "route": "billing"}) == ["t03"]
    assert ids(scores=(ScoreRange("groundedness", 0.0, 0.4),)) == ["t00", "t05"]
    assert ids(scores=(ScoreRange("groundedness", 0.5, 1.0),)) == ["t02", "t03"]
    both = (ScoreRange("groundedness", 0.0, 0.4), ScoreRange("relevance", 0.8, 1.0))
    assert ids(scores=both) == ["t05"]
    assert ids(label="hallucinated") == ["t05"]
    assert ids(label="correct") == []
    assert ids(status="error") == ["t03"]
    assert ids(status="ok", app="shop", segment={"route": "billing"}) == ["t00", "t02", "t04"]


def test_traces_of_apps_not_granted_never_appear(conn: Conn) -> None:
    _store(conn, [_trace(i, app="shop" if i % 2 else "hr") for i in range(10)])
    granted = _all_pages(conn, Filters(), ["shop"], limit=3)
    assert sorted(i for p in granted for i in p) == ["t01", "t03", "t05", "t07", "t09"]
    assert explorer.search(conn, Filters(app="hr"), ["shop"]).traces == []
    assert explorer.search(conn, Filters(), []).traces == []
    assert explorer.trace_detail(conn, "t00", ["shop"]) is None  # hr: as if it did not exist
    assert explorer.trace_detail(conn, "t00", None) is not None
    assert explorer.trace_detail(conn, "nope", None) is None
    assert explorer.options(conn, ["shop"])["apps"] == []  # not in the daily rollups yet
    assert explorer.any_trace(conn, ["shop"]) and not explorer.any_trace(conn, ["payroll"])
    rollups.refresh(conn)  # the options come from the daily rollups
    assert explorer.options(conn, ["shop"])["apps"] == ["shop"]
    assert explorer.options(conn, None)["apps"] == ["hr", "shop"]


def test_trace_detail_orders_the_span_tree_with_depths_offsets_and_durations(
    conn: Conn,
) -> None:
    def at(ms: int) -> datetime:
        return T0 + timedelta(milliseconds=ms)

    spans = [  # stored out of order; "llm" starts before "retrieve" ends, under "chain"
        Span(span_id="llm", parent_span_id="chain", kind="llm", name="generate",
             start_time=at(150), end_time=at(900)),
        Span(span_id="embed", parent_span_id="retrieve", kind="embedding", name="embed",
             start_time=at(20), end_time=at(60)),
        Span(span_id="root", name="request", kind="chain", start_time=at(0), end_time=at(1000)),
        Span(span_id="retrieve", parent_span_id="chain", kind="retriever", name="retrieve",
             start_time=at(10), end_time=at(200)),
        Span(span_id="chain", parent_span_id="root", kind="chain", name="rag",
             start_time=at(5), end_time=None),
        Span(span_id="orphan", parent_span_id="gone", name="late", start_time=at(950),
             end_time=at(960)),
    ]  # fmt: skip
    _store(conn, [_trace(1, start_time=T0, spans=spans, attributes={"user": "u1"},
                         retrievals=[Retrieval(content="refunds", score=0.8, span_id="retrieve"),
                                     Retrieval(content="returns", score=0.7, span_id="retrieve")])
                  ])  # fmt: skip
    _score(conn, "t01", "groundedness", 0.2, T0)
    _score(conn, "t01", "relevance", 0.9, T0)

    detail = explorer.trace_detail(conn, "t01", ["shop"])
    assert detail is not None
    got = [(s["span_id"], s["depth"], s["offset_ms"], s["duration_ms"]) for s in detail["spans"]]
    assert got == [
        ("root", 0, 0.0, 1000.0),
        ("chain", 1, 5.0, None),
        ("retrieve", 2, 10.0, 190.0),
        ("embed", 3, 20.0, 40.0),
        ("llm", 2, 150.0, 750.0),
        ("orphan", 0, 950.0, 10.0),  # its parent never arrived: a root
    ]
    assert detail["trace"]["attributes"] == {"user": "u1"}
    assert [r["content"] for r in detail["retrievals"]] == ["refunds", "returns"]
    assert [(s["evaluator"], s["value"], s["explanation"]) for s in detail["scores"]] == [
        ("groundedness", 0.2, "why"), ("relevance", 0.9, "why")]  # fmt: skip


def test_the_regressions_a_trace_belongs_to(conn: Conn) -> None:
    _store(conn, [_trace(1), _trace(2, segment={"route": "technical"}), _trace(3, app="docs")])
    whole = _regression(conn, segment={})
    billing = _regression(conn, segment={"route": "billing"}, evaluator="relevance")
    versioned = _regression(conn, segment={"prompt_version": "v1"}, evaluator="toxicity")
    later = _regression(conn, segment={}, evaluator="faithfulness", days=3)  # not then
    review.enqueue_traces(conn, regression_id=later, trace_ids=["t02"], reason="worst")
    docs = explorer.trace_detail(conn, "t03", None)
    assert docs is not None and docs["regressions"] == []  # another app's regressions

    one = explorer.trace_detail(conn, "t01", None)
    assert one is not None
    assert {r["id"] for r in one["regressions"]} == {whole, billing, versioned}
    two = explorer.trace_detail(conn, "t02", None)
    assert two is not None
    assert {r["id"]: r["queued_it"] for r in two["regressions"]} == {
        whole: False, versioned: False, later: True}  # fmt: skip
    assert [(item["regression_id"], item["status"]) for item in two["labels"]] == [
        (later, "pending")]  # fmt: skip


def _regression(conn: Conn, segment: dict[str, str], evaluator: str = "groundedness",
                days: int = 0) -> int:  # fmt: skip
    start = T0 - timedelta(hours=1) + timedelta(days=days)
    return regressions.record(conn, regressions.Regression(
        app="shop", metric="score", evaluator=evaluator, evaluator_version="1",
        segment=segment, window_start=start, window_end=start + timedelta(days=1),
        baseline_start=start - timedelta(days=7), baseline_end=start, window_mean=0.4,
        baseline_mean=0.8, window_n=50, baseline_n=300, delta=-0.4, p_value=1e-6,
        q_value=1e-5, effect=0.4,
    ), run_id=None)  # fmt: skip


def test_examples_for_the_cli_links(conn: Conn) -> None:
    _store(conn, [_trace(i) for i in range(4)])
    rid = _regression(conn, segment={})
    for i, value in enumerate((0.6, 0.1, 0.3)):
        _score(conn, f"t{i:02d}", "groundedness", value, T0 + timedelta(minutes=i))
    review.enqueue_traces(
        conn, regression_id=rid, trace_ids=["t00", "t01", "t02"], reason="low",
        evaluator="groundedness", evaluator_version="1",
    )  # fmt: skip
    examples = regressions.example_traces(conn, rid)
    assert [e["trace_id"] for e in examples] == ["t01", "t02", "t00"]  # worst first
    assert [e["trace_id"] for e in regressions.example_traces(conn, rid, limit=1)] == ["t01"]

    def run(total: int, errors: int) -> int:
        run_id = runs.start_run(conn, kind="adhoc", window_start=T0,
                                window_end=T0 + timedelta(hours=1), evaluators=["relevance"],
                                traces_total=total)  # fmt: skip
        conn.execute("UPDATE eval_runs SET errors = %s WHERE id = %s", (errors, run_id))
        return run_id

    single, failing, clean = run(1, 0), run(3, 1), run(2, 0)
    scores.upsert_scores(conn, [
        scores.ScoreRow("t03", "relevance", "1", Score.scored(0.5)),
    ], run_id=single)  # fmt: skip
    scores.upsert_scores(conn, [
        scores.ScoreRow("t00", "toxicity", "1", Score.scored(0.5)),
        scores.ScoreRow("t02", "toxicity", "1", Score.error("judge timed out")),
    ], run_id=failing)  # fmt: skip
    scores.upsert_scores(conn, [
        scores.ScoreRow(f"t0{i}", "faithfulness", "1", Score.scored(0.5))
        for i in (0, 1)
    ], run_id=clean)  # fmt: skip
    assert explorer.run_examples(conn, [single, failing, clean]) == {single: "t03", failing: "t02"}


def test_search_takes_one_cursor(conn: Conn) -> None:
    with pytest.raises(ValueError, match="not both"):
        explorer.search(conn, Filters(), None, after=(T0, "t00"), before=(T0, "t00"))
