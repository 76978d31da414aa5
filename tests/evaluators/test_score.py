"""Score results: values, labels and measures, as the model and the database keep them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigil.db.types import Conn
from vigil.models import Score, Trace
from vigil.store import scores, traces
from vigil.store.scores import ScoreRow


def test_a_measure_carries_its_unit_and_is_never_a_failure() -> None:
    latency = Score.measured(812.5, "ms", "812 ms")
    assert latency.measure == 812.5 and latency.value is None
    assert latency.metadata["unit"] == "ms"
    with pytest.raises(ValidationError, match="unit"):
        Score(status="scored", measure=3.0)
    with pytest.raises(ValidationError, match="carries no value"):
        Score(status="error", measure=3.0, explanation="boom", metadata={"unit": "ms"})
    with pytest.raises(ValidationError):
        Score.measured(float("nan"), "ms")
    assert Score.labeled("low_confidence").label == "low_confidence"


def test_measures_and_labels_are_stored_with_the_score(conn: Conn) -> None:
    trace = Trace(id="t1", app="a", start_time="2026-01-01T00:00:00Z", input="q", output="a")
    traces.insert_traces(conn, [trace])
    rows = [
        ScoreRow("t1", "latency_ms", "1", Score.measured(40.0, "ms")),
        ScoreRow("t1", "conf", "1", Score.labeled("ok", "fine")),
    ]
    assert scores.upsert_scores(conn, rows, None) == 2
    stored = {r["evaluator"]: r for r in scores.scores_for_trace(conn, "t1")}
    assert stored["latency_ms"]["measure"] == 40.0
    assert stored["latency_ms"]["metadata"]["unit"] == "ms"
    assert stored["conf"]["label"] == "ok" and stored["conf"]["value"] is None
    with pytest.raises(Exception, match="scores_only_scored_has_result"):
        conn.execute(
            "INSERT INTO scores (trace_id, app, trace_start, evaluator, evaluator_version,"
            " measure, status) VALUES ('t1', 'a', now(), 'x', '1', 1.0, 'skipped')"
        )
