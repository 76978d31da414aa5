"""Traces, scores, a run, a regression and an SLO file for the exporter tests, written
through the store as every other writer does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.db.types import Conn
from vigil.models import Score, Trace
from vigil.store import regressions, runs
from vigil.store.scores import ScoreRow, upsert_scores
from vigil.store.traces import insert_traces

APP = "shop"


def traces(conn: Conn, routes: list[str], prefix: str, error_every: int = 0) -> list[Trace]:
    """One trace a route, started minutes ago: latency 0.1 s per position + 0.5 s, cost
    0.001 USD each, 100 tokens in and 20 out; every ``error_every``-th one failed."""
    now = datetime.now(UTC)
    rows = [
        Trace(id=f"{prefix}-{i}", app=APP, start_time=now - timedelta(minutes=5 + i),
              latency_ms=500.0 + 100.0 * i, cost_usd=0.001, tokens_in=100, tokens_out=20,
              model="gpt-4o-mini", prompt_version="v1", segment={"route": route},
              status="error" if error_every and i % error_every == 0 else "ok")
        for i, route in enumerate(routes)
    ]  # fmt: skip
    with conn.transaction():
        insert_traces(conn, rows)
    return rows


def scores(conn: Conn, rows: list[Trace], values: list[float], evaluator: str = "groundedness",
           ) -> None:  # fmt: skip
    with conn.transaction():
        upsert_scores(conn, [
            ScoreRow(t.id, evaluator, "1", Score(status="scored", value=v))
            for t, v in zip(rows, values, strict=True)
        ], run_id=None)  # fmt: skip


def evaluation_run(conn: Conn) -> None:
    now = datetime.now(UTC)
    run = runs.start_run(conn, kind="adhoc", window_start=now - timedelta(hours=1),
                         window_end=now, evaluators=["groundedness"], app=APP)  # fmt: skip
    runs.add_progress(conn, run, done=5, scored=4, skipped=1, errors=2, cost_usd=0.25,
                      judge_tokens=1200)  # fmt: skip


def regression(conn: Conn) -> None:
    now = datetime.now(UTC)
    found = regressions.Regression(
        app=APP, metric="score", evaluator="groundedness", evaluator_version="1", segment={},
        window_start=now - timedelta(days=1), window_end=now,
        baseline_start=now - timedelta(days=8), baseline_end=now - timedelta(days=1),
        window_mean=0.6, baseline_mean=0.8, window_n=100, baseline_n=700, delta=-0.2,
        p_value=0.001, q_value=0.002, effect=0.2)  # fmt: skip
    with conn.transaction():
        regressions.record(conn, found, None)


def slo_file(folder: Path) -> Path:
    """One SLO: 3 of 4 under 0.8 s is good; target 0.5, so the budget left is 0.5."""
    path = folder / "slo.yaml"
    path.write_text(
        "slos:\n"
        f"  - {{name: fast, app: {APP}, sli: {{measure: latency_ms, bound: 800}},"
        " target: 0.5, window: 1d}\n"
    )
    return path
