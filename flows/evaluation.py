"""Evaluating traces: plain functions the flows call, testable without Prefect."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from evaluators import Evaluator
from vigil.db.types import Conn
from vigil.store import runs, scores, traces
from vigil.store.scores import ScoreRow


@dataclass(frozen=True)
class BatchOutcome:
    traces: int
    scored: int
    skipped: int
    errors: int

    def __add__(self, other: BatchOutcome) -> BatchOutcome:
        return BatchOutcome(
            self.traces + other.traces,
            self.scored + other.scored,
            self.skipped + other.skipped,
            self.errors + other.errors,
        )


EMPTY = BatchOutcome(0, 0, 0, 0)


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def evaluate_batch(
    conn: Conn,
    trace_ids: list[str],
    evaluators: Sequence[Evaluator],
    run_id: int | None,
) -> BatchOutcome:
    """Score a batch of traces with each evaluator that has not scored them yet.

    Scores and the run's progress are written in one transaction: a killed worker leaves
    either the whole batch or nothing, and a re-run scores exactly what is missing. Takes an
    autocommit connection, so that no transaction stays open while the model runs.
    """
    loaded = {t.id: t for t in traces.load_traces(conn, trace_ids)}
    rows: list[ScoreRow] = []
    for ev in evaluators:
        todo = scores.needing_score(conn, list(loaded), ev.name, ev.version)
        batch = [loaded[i] for i in trace_ids if i in todo]
        if not batch:
            continue
        for trace, score in zip(batch, ev.evaluate(batch), strict=True):
            rows.append(ScoreRow(trace.id, trace.app, trace.start_time, ev.name, ev.version, score))
    outcome = BatchOutcome(
        traces=len(loaded),
        scored=sum(r.score.status == "scored" for r in rows),
        skipped=sum(r.score.status == "skipped" for r in rows),
        errors=sum(r.score.status == "error" for r in rows),
    )
    with conn.transaction():
        scores.upsert_scores(conn, rows, run_id)
        if run_id is not None:
            runs.add_progress(
                conn,
                run_id,
                done=outcome.traces,
                scored=outcome.scored,
                skipped=outcome.skipped,
                errors=outcome.errors,
            )
    return outcome
