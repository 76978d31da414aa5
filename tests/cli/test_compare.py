"""`vigil compare`: a canary prompt version against its control over the same day."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta

from tests.cli.helpers import vigil
from vigil.models import Score, Trace
from vigil.store.scores import ScoreRow, upsert_scores
from vigil.store.traces import insert_traces

DAY = datetime(2026, 6, 1, tzinfo=UTC)


def seed(conn, canary_worse: bool) -> None:  # type: ignore[no-untyped-def]
    """A day of traffic split between prompt v3 (control) and v4 (canary)."""
    rng = random.Random(3)
    traces, rows = [], []
    for i in range(400):
        canary = i % 2 == 1
        bad = canary and canary_worse
        at = DAY + timedelta(minutes=3 * i)
        trace = Trace(id=f"c{i:04d}", app="shop", start_time=at, input="q?", output="a.",
                      prompt_version="v4" if canary else "v3", latency_ms=rng.gauss(900, 80),
                      tokens_in=800, tokens_out=int(rng.gauss(450 if bad else 150, 30)),
                      cost_usd=0.0002)  # fmt: skip
        traces.append(trace)
        value = min(1.0, max(0.0, rng.gauss(0.45 if bad else 0.75, 0.12)))
        rows.append(ScoreRow(trace.id, "groundedness", "2", Score.scored(value)))
    with conn.transaction():
        insert_traces(conn, traces)
        upsert_scores(conn, rows, None)


ARGS = ["compare", "--app", "shop", "--segment", "prompt_version=v4", "--against",
        "prompt_version=v3", "--start", "2026-06-01", "--end", "2026-06-02"]  # fmt: skip


def test_a_worse_canary_exits_3_with_the_metrics_it_is_worse_on(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(conn, canary_worse=True)
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url}
    done = vigil([*ARGS, "--format", "json"], env)
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert set(report["worse"]) == {"score:groundedness", "below_threshold_rate:groundedness",
                                    "output_tokens"}  # fmt: skip
    by_name = {m["name"]: m for m in report["metrics"]}
    score = by_name["score:groundedness"]
    assert score["interval"][1] < -0.2  # canary - control, well below zero
    assert score["n_canary"] == score["n_control"] == 200 and score["n_needed"] > 2
    assert by_name["latency_p95"]["verdict"] == "no detectable difference"

    markdown = vigil([*ARGS, "--format", "markdown"], env)
    assert markdown.returncode == 3 and "| metric | verdict |" in markdown.stdout


def test_an_equal_canary_exits_0(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(conn, canary_worse=False)
    done = vigil(ARGS, {**os.environ, "VIGIL_DATABASE_URL": db_url})
    assert done.returncode == 0, done.stdout + done.stderr
    rows = done.stdout.splitlines()[2:]  # after the title and the header
    assert len(rows) == 7 and all("no detectable difference" in r for r in rows), rows


def test_a_segment_with_no_traffic_is_refused_by_name(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(conn, canary_worse=False)
    args = [*ARGS[:4], "prompt_version=v9", *ARGS[5:]]
    done = vigil(args, {**os.environ, "VIGIL_DATABASE_URL": db_url})
    assert done.returncode == 1
    assert "--segment prompt_version=v9: no trace of app 'shop'" in done.stderr
    bad = vigil([*ARGS[:4], "v9", *ARGS[5:]], {**os.environ, "VIGIL_DATABASE_URL": db_url})
    assert bad.returncode == 1 and "is not KEY=VALUE" in bad.stderr
