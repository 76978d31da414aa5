"""New traces that start more than a day ahead, or before the traces' retention, have no
partition to go to: they are refused, said so and counted (OTLP: rejected spans with their
reason; JSONL: listed, exit 1). Late spans of a stored trace go to its partition."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from vigil.db.types import Conn
from vigil.ingest.spans import store_spans
from vigil.models import MappedSpan
from vigil.otlp.counting import answered_counts
from vigil.otlp.mapping import MappedBatch
from vigil.store.metrics import IngestCount

NOW = datetime.now(UTC)


def _span(trace_id: str, span_id: str, start: datetime, parent: str | None = None) -> MappedSpan:
    return MappedSpan(trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=span_id,
                      kind="chain", start_time=start, end_time=start + timedelta(seconds=1),
                      status="ok", attributes={})  # fmt: skip


def _keep_traces(conn: Conn, days: int) -> None:
    conn.execute(
        "INSERT INTO retention_policies (data, keep_days, updated_by) VALUES ('traces', %s, 't')",
        (days,),
    )


def test_spans_of_new_traces_out_of_range_are_rejected_with_their_reason(conn: Conn) -> None:
    with conn.transaction():
        store_spans(conn, "bot", [_span("kept", "root", NOW - timedelta(days=20))], lambda t: t)
    _keep_traces(conn, 30)
    spans = [
        _span("ahead", "root", NOW + timedelta(days=3)),
        _span("old", "root", NOW - timedelta(days=40)),
        _span("now", "root", NOW),
        _span("kept", "late", NOW - timedelta(days=45), parent="root"),  # a stored trace
    ]
    with conn.transaction():
        written = store_spans(conn, "bot", spans, lambda t: t)
    assert (written.stored, sorted(written.reasons)) == (
        2,
        ["future_start", "older_than_retention"],
    )
    assert any("span root: trace ahead starts more than a day ahead" in r for r in written.rejected)
    assert any("trace old starts before the traces' retention" in r for r in written.rejected)
    stored = conn.execute("SELECT id FROM trace_ids ORDER BY id").fetchall()
    assert [r["id"] for r in stored] == ["kept", "now"]
    late = conn.execute(
        "SELECT s.part_time = k.part_time AS same FROM spans s JOIN trace_ids k"
        " ON k.id = s.trace_id WHERE s.span_id = 'late'"
    ).fetchone()
    assert late["same"]  # in its trace's partition, whatever its own time

    counts = answered_counts("bot", MappedBatch(spans, []), written)
    rejected = {c.reason: c.spans for c in counts if c.outcome == "rejected"}
    assert rejected == {"future_start": 1, "older_than_retention": 1}
    assert IngestCount("bot", "stored", "", 0, 2) in counts


def test_jsonl_lists_refused_traces_and_exits_1(conn: Conn, db_url: str, tmp_path: Path) -> None:
    _keep_traces(conn, 30)
    lines = [
        {"id": "j-old", "app": "a", "start_time": (NOW - timedelta(days=60)).isoformat()},
        {"id": "j-new", "app": "a", "start_time": NOW.isoformat()},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = CliRunner().invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 1
    assert "1 traces refused (e.g. j-old)" in result.output
    assert "stored 1 traces, 0 already present, 0 bad lines skipped" in result.output
