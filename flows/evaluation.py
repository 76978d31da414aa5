"""Evaluating traces: plain functions the flows call, testable without Prefect."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from evaluators import Evaluator
from vigil.db.types import Conn
from vigil.store import claims, runs, scores, traces
from vigil.store.scores import ScoreRow


@dataclass(frozen=True)
class BatchOutcome:
    traces: int = 0
    scored: int = 0
    skipped: int = 0
    errors: int = 0
    judge_tokens: int = 0
    cost_usd: float = 0.0
    budget_spent: bool = False  # the judge budget ran out: some traces were not attempted
    busy: tuple[str, ...] = field(default=())  # held by another run when this one came
    written: int = 0  # score rows written (a stored final score is kept, not rewritten)

    def __add__(self, other: BatchOutcome) -> BatchOutcome:
        return BatchOutcome(
            self.traces + other.traces,
            self.scored + other.scored,
            self.skipped + other.skipped,
            self.errors + other.errors,
            self.judge_tokens + other.judge_tokens,
            self.cost_usd + other.cost_usd,
            self.budget_spent or other.budget_spent,
            self.busy + other.busy,
            self.written + other.written,
        )


EMPTY = BatchOutcome()


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def keys(evaluators: Sequence[Evaluator]) -> list[tuple[str, str]]:
    return [(e.name, e.version) for e in evaluators]


Report = Callable[[ScoreRow], None]


def evaluate_batch(
    conn: Conn,
    trace_ids: list[str],
    evaluators: Sequence[Evaluator],
    run_id: int | None,
    max_attempts: int = 3,
    *,
    rescore: bool = False,
    store: bool = True,
    report: Report | None = None,
) -> BatchOutcome:
    """Score a batch of traces with each evaluator that has not scored them yet, and persist
    the scores and the run's counters. The one evaluation path: the flows, ``vigil
    evaluate``, the benchmarks and the tests all come here.

    Scores and the run's progress are written in one transaction: a killed worker leaves
    either the whole batch or nothing, and a re-run scores exactly what is missing. Takes an
    autocommit connection, so that no transaction stays open while the model runs. Scores
    the judge could not attempt because the run's budget is spent are not stored: the
    traces stay new for the next run. ``rescore`` runs every evaluator even where a score
    is stored (a stored final score is still kept); ``store=False`` writes nothing;
    ``report`` sees each score as it is made.
    """
    loaded = {t.id: t for t in traces.load_traces(conn, trace_ids)}
    judge = next((e.resources.judge for e in evaluators if e.resources.judge), None)
    spent_before = _spend(judge)
    rows: list[ScoreRow] = []
    budget_spent = False
    for ev in evaluators:
        todo = (
            set(loaded)
            if rescore
            else scores.needing_score(conn, list(loaded), ev.name, ev.version, max_attempts)
        )
        batch = [loaded[i] for i in trace_ids if i in todo]
        if not batch:
            continue
        for trace, score in zip(batch, ev.evaluate(batch), strict=True):
            row = ScoreRow(trace.id, ev.name, ev.version, score)
            if report is not None:
                report(row)
            if score.not_attempted:
                budget_spent = True
            else:
                rows.append(row)
    (tokens_now, cost_now), (tokens_before, cost_before) = _spend(judge), spent_before
    outcome = BatchOutcome(
        traces=len(loaded),
        scored=sum(r.score.status == "scored" for r in rows),
        skipped=sum(r.score.status == "skipped" for r in rows),
        errors=sum(r.score.status == "error" for r in rows),
        judge_tokens=int(tokens_now - tokens_before),
        cost_usd=cost_now - cost_before,
        budget_spent=budget_spent,
    )
    if not store:
        return outcome
    with conn.transaction():
        written = scores.upsert_scores(conn, rows, run_id)
        if run_id is not None:
            runs.add_progress(
                conn,
                run_id,
                done=outcome.traces,
                scored=outcome.scored,
                skipped=outcome.skipped,
                errors=outcome.errors,
                cost_usd=outcome.cost_usd,
                judge_tokens=outcome.judge_tokens,
            )
    return replace(outcome, written=written)


def evaluate_claimed(
    conn: Conn,
    lock_conn: Conn,
    trace_ids: list[str],
    evaluators: Sequence[Evaluator],
    run_id: int | None,
    max_attempts: int = 3,
) -> BatchOutcome:
    """Claim the traces of ``trace_ids`` that no other run holds and that still need a
    score, and evaluate them (see :mod:`vigil.store.claims`).

    ``lock_conn`` holds the claim locks in a transaction while ``conn`` (autocommit)
    evaluates and commits the scores, which happens before the locks are released: a run
    that claims next sees the scores. The ids another run holds come back in ``busy``.
    """
    with lock_conn.transaction():
        mine = claims.claim(
            lock_conn, trace_ids, keys(evaluators), limit=len(trace_ids), max_attempts=max_attempts
        )
        # needed but not claimable: another run holds them
        claimed = set(mine)
        rest = [i for i in trace_ids if i not in claimed]
        busy = tuple(claims.still_missing(lock_conn, rest, keys(evaluators), max_attempts))
        if not mine:
            return BatchOutcome(busy=busy)
        outcome = evaluate_batch(conn, mine, evaluators, run_id, max_attempts)
    return outcome + BatchOutcome(busy=busy)


def evaluate_slice(
    conn: Conn,
    lock_conn: Conn,
    trace_ids: list[str],
    evaluators: Sequence[Evaluator],
    run_id: int | None,
    batch_size: int,
    max_attempts: int = 3,
) -> BatchOutcome:
    """A slice of traces, claimed, evaluated and committed ``batch_size`` at a time (the
    body of one ``evaluate-batches`` task); stops at the judge budget."""
    total = EMPTY
    for batch in chunks(trace_ids, batch_size):
        total = total + evaluate_claimed(conn, lock_conn, batch, evaluators, run_id, max_attempts)
        if total.budget_spent:
            break
    return total


def evaluate_picks(
    trace_ids: list[str], evaluate: Callable[[list[str]], BatchOutcome], slice_size: int
) -> BatchOutcome:
    """A run's picks, ``slice_size`` at a time through ``evaluate`` (a task, or
    :func:`evaluate_slice` directly), then one more pass over the traces another run held
    (finished by it meanwhile, or free again if it died). Stops at the judge budget; what
    is still held after the second pass comes back in ``busy``."""
    total, todo = EMPTY, trace_ids
    for _ in range(2):  # the second pass takes what another run held during the first
        held: list[str] = []
        for part in chunks(todo, slice_size):
            outcome = evaluate(part)
            total, held = total + replace(outcome, busy=()), held + list(outcome.busy)
            if total.budget_spent:
                return total
        todo = held
    return replace(total, busy=tuple(todo))


def _spend(judge: Any) -> tuple[float, float]:
    """Tokens and dollars the judge has spent so far (0 without a judge)."""
    usage = getattr(judge, "usage", None)
    return (float(usage.tokens), float(usage.cost_usd)) if usage is not None else (0.0, 0.0)
