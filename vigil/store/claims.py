"""Batch claims: how concurrent runs over overlapping windows split the work.

A run records the traces it picked (``record``, idempotent), then evaluates them a batch
at a time while a transaction holds the batch's claim rows locked (``claim``, with
``FOR UPDATE SKIP LOCKED``). A concurrent run skips locked rows, so each trace is evaluated
by one run at a time. A run killed partway loses its locks with its connection, and its
uncommitted batch is rolled back whole, so a re-run picks up exactly what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.pq import TransactionStatus

from vigil.db.types import Conn
from vigil.store.sampling import Pick
from vigil.store.scores import missing_params, missing_score_sql


def record(conn: Conn, picks: Sequence[Pick], run_id: int | None) -> None:
    """Make sure each picked trace has a claim row (the first reason and run are kept)."""
    if not picks:
        return
    conn.execute(
        "INSERT INTO eval_claims (trace_id, reason, first_run)"
        " SELECT id, reason, %s FROM unnest(%s::text[], %s::text[]) AS p(id, reason)"
        " ON CONFLICT (trace_id) DO NOTHING",
        (run_id, [p.trace_id for p in picks], [p.reason for p in picks]),
    )


def claim(
    conn: Conn,
    trace_ids: Sequence[str],
    evaluators: list[tuple[str, str]],
    *,
    limit: int,
    max_attempts: int,
) -> list[str]:
    """Lock up to ``limit`` of ``trace_ids`` that no other run holds and that still miss a
    final score from one of ``evaluators``, in the order given. Call inside a transaction:
    the locks last until it ends."""
    if conn.info.transaction_status == TransactionStatus.IDLE:
        raise RuntimeError("claim() must run inside a transaction: its locks end with it")
    rows = conn.execute(
        f"""
        SELECT c.trace_id FROM unnest(%(ids)s::text[]) WITH ORDINALITY AS u(id, n)
        JOIN eval_claims c ON c.trace_id = u.id
        LEFT JOIN trace_ids k ON k.id = c.trace_id
        WHERE {missing_score_sql("c.trace_id", "k.part_time")}
        ORDER BY u.n
        LIMIT %(limit)s
        FOR UPDATE OF c SKIP LOCKED
        """,
        {"ids": list(trace_ids), "limit": limit, **missing_params(evaluators, max_attempts)},
    ).fetchall()
    return [r["trace_id"] for r in rows]


def still_missing(
    conn: Conn, trace_ids: Sequence[str], evaluators: list[tuple[str, str]], max_attempts: int
) -> list[str]:
    """Which of ``trace_ids`` still miss a final score (in the order given)."""
    if not trace_ids:
        return []
    rows = conn.execute(
        f"""
        SELECT u.id FROM unnest(%(ids)s::text[]) WITH ORDINALITY AS u(id, n)
        LEFT JOIN trace_ids k ON k.id = u.id
        WHERE {missing_score_sql("u.id", "k.part_time")} ORDER BY u.n
        """,
        {"ids": list(trace_ids), **missing_params(evaluators, max_attempts)},
    ).fetchall()
    return [r["id"] for r in rows]
