"""Writing a batch of spans: new traces' spans are copied in, known traces' spans inserted
unless present; either way a span and a chunk are stored once, and a failed batch leaves
nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from vigil.db.types import Conn
from vigil.ingest.spans import SpanWrite, store_spans
from vigil.models import MappedSpan

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
APP = "bot"


def span(trace_id: str, span_id: str, parent: str | None = None, *, kind: str = "chain",
         chunks: tuple[str, ...] = (), **mapped: Any) -> MappedSpan:  # fmt: skip
    start = T0 + timedelta(milliseconds=len(span_id))
    return MappedSpan(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=f"{span_id}-name",
        kind=kind, start_time=start, end_time=start + timedelta(milliseconds=100),
        status="ok", attributes={"k": span_id}, mapped=mapped,
        retrievals=[{"rank": i, "document_id": f"d{i}", "content": c, "score": 0.5}
                    for i, c in enumerate(chunks)],
    )  # fmt: skip


def write(conn: Conn, *spans: MappedSpan) -> SpanWrite:
    with conn.transaction():
        return store_spans(conn, APP, list(spans), lambda t: t)


def stored(conn: Conn) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    spans = conn.execute("SELECT trace_id, span_id, name, attributes, mapped FROM spans"
                         " ORDER BY 1, 2").fetchall()  # fmt: skip
    chunks = conn.execute("SELECT trace_id, span_id, rank, document_id, content, score"
                          " FROM retrievals ORDER BY 1, 2, 3").fetchall()  # fmt: skip
    return [tuple(r.values()) for r in spans], [tuple(r.values()) for r in chunks]


def rag(trace_id: str) -> list[MappedSpan]:
    return [
        span(trace_id, "root", input="q?", output="a."),
        span(trace_id, "retrieve", "root", kind="retriever", chunks=("one", "two")),
        span(trace_id, "llm", "root", kind="llm", model="gpt-x", tokens_in=10),
    ]


def test_a_new_traces_spans_and_chunks_are_stored_as_sent(conn: Conn) -> None:
    written = write(conn, *rag("t1"))
    assert (written.stored, written.duplicates, written.traces) == (3, 0, ["t1"])
    spans, chunks = stored(conn)
    assert [(s[1], s[2], s[3]) for s in spans] == [
        ("llm", "llm-name", {"k": "llm"}), ("retrieve", "retrieve-name", {"k": "retrieve"}),
        ("root", "root-name", {"k": "root"}),
    ]  # fmt: skip
    assert spans[0][4] == {"model": "gpt-x", "tokens_in": 10}
    assert chunks == [("t1", "retrieve", 0, "d0", "one", 0.5),
                      ("t1", "retrieve", 1, "d1", "two", 0.5)]  # fmt: skip
    trace = conn.execute("SELECT input, output, model, complete FROM traces").fetchone()
    assert trace == {"input": "q?", "output": "a.", "model": "gpt-x", "complete": True}


def test_a_resent_batch_stores_nothing_and_counts_duplicates(conn: Conn) -> None:
    write(conn, *rag("t1"))
    before = stored(conn)
    again = write(conn, *rag("t1"))  # the trace is known now: the insert path
    assert (again.stored, again.duplicates) == (0, 3)
    assert stored(conn) == before


def test_a_span_sent_twice_in_one_batch_is_stored_once_as_first_sent(conn: Conn) -> None:
    first = span("t1", "retrieve", kind="retriever", chunks=("one",))
    copy = span("t1", "retrieve", kind="retriever", chunks=("changed", "more"))
    copy.name = "changed"
    written = write(conn, first, copy)
    assert (written.stored, written.duplicates) == (1, 1)
    spans, chunks = stored(conn)
    assert [(s[1], s[2]) for s in spans] == [("retrieve", "retrieve-name")]
    assert [c[4] for c in chunks] == ["one"]
    traces = conn.execute("SELECT attributes FROM traces").fetchall()
    assert [t["attributes"]["vigil"]["spans"] for t in traces] == [1]


def test_a_batch_of_new_and_known_traces_stores_and_reassembles_both(conn: Conn) -> None:
    write(conn, span("t1", "root", input="q1?"))
    written = write(conn, span("t1", "llm", "root", kind="llm", model="gpt-x", output="a1."),
                    span("t1", "root", input="q1?"), *rag("t2"))  # fmt: skip
    assert (written.stored, written.duplicates, written.traces) == (4, 1, ["t1", "t2"])
    rows = conn.execute("SELECT id, input, output, model, attributes FROM traces ORDER BY id")
    t1, t2 = rows.fetchall()
    assert (t1["input"], t1["output"], t1["model"]) == ("q1?", "a1.", "gpt-x")
    assert t1["attributes"]["vigil"]["spans"] == 2
    assert (t2["input"], t2["model"], t2["attributes"]["vigil"]["spans"]) == ("q?", "gpt-x", 3)
    assert len(stored(conn)[1]) == 2  # t2's chunks


def test_a_batch_that_fails_leaves_nothing_behind(conn: Conn) -> None:
    bad = span("t2", "x", kind="not-a-kind")  # refused by the spans table's check
    with pytest.raises(psycopg.errors.CheckViolation):
        write(conn, *rag("t1"), bad)
    assert conn.execute("SELECT id FROM traces").fetchall() == []
    assert stored(conn) == ([], [])
