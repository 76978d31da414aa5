"""The "still needs a score" rule and the strata SQL, as the sampling and flows use them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.db.types import Conn
from vigil.models import Score, Trace
from vigil.store import claims, sampling
from vigil.store.scores import ScoreRow, needing_score, upsert_scores
from vigil.store.traces import insert_traces

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_needing_score_agrees_with_the_claim_queries(conn: Conn) -> None:
    insert_traces(conn, [Trace(id=t, app="a", start_time=START) for t in "abcd"])

    def row(trace: str, score: Score, version: str = "1") -> ScoreRow:
        return ScoreRow(trace, "ev", version, score)

    upsert_scores(conn, [row("a", Score.scored(0.5)), row("b", Score.error("boom")),
                         row("c", Score.error("boom")), row("d", Score.scored(1.0), "0")],
                  None)  # fmt: skip
    upsert_scores(conn, [row("c", Score.error("again"))], None)  # c: two attempts

    ids = ["a", "b", "c", "d", "unknown"]
    assert needing_score(conn, ids, "ev", "1", max_attempts=2) == {"b", "d", "unknown"}
    assert needing_score(conn, ids, "ev", "1", max_attempts=3) == {"b", "c", "d", "unknown"}
    assert needing_score(conn, [], "ev", "1") == set()
    for attempts in (2, 3):
        assert set(claims.still_missing(conn, ids, [("ev", "1")], attempts)) == needing_score(
            conn, ids, "ev", "1", max_attempts=attempts
        )


def test_strata_sql_names_columns_and_segment_keys() -> None:
    assert sampling.stratum_sql("model") == "t.model"
    assert sampling.stratum_sql("route") == "t.segment ->> 'route'"
    assert sampling.strata_sql(()) == "''"
    assert sampling.strata_sql(("model", "route")) == (
        "coalesce(t.model, '') || '|' || coalesce(t.segment ->> 'route', '')"
    )


@pytest.mark.parametrize("key", ["route'; DROP TABLE traces; --", "a b", "", "x" * 65])
def test_a_bad_stratum_key_never_reaches_sql(key: str) -> None:
    with pytest.raises(ValueError, match="bad stratum key"):
        sampling.stratum_sql(key)
