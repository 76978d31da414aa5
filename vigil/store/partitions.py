"""Time partitions of traces, spans, retrievals and scores (migration 0017).

The four tables are partitioned by range on the trace's ``part_time`` (its start time when
first stored), with the same bounds, listed in ``time_partitions``. There is no default
partition: a row whose range has no partition is refused by PostgreSQL, so every write
path makes sure of its ranges first (:func:`ensure`, inside its transaction and before any
row lock), and the flows make them two weeks ahead (:func:`ensure_ahead`). Retention drops
whole partitions (:func:`drop`, used by :mod:`vigil.store.retention`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from vigil.db.types import Conn
from vigil.errors import VigilError

LOCK_KEY = 0x76_69_67_16  # pg_advisory lock while partitions are made (the SQL names it too)
TABLES = ("traces", "spans", "retrievals", "scores")
TRACE_TABLES = ("spans", "retrievals", "traces")  # dropped at the traces' retention, in order
MAX_AHEAD = timedelta(days=1)  # a trace may start this far in the future (clock skew)
AHEAD = (timedelta(0), timedelta(days=7), timedelta(days=14))  # made ahead by the flows


@dataclass(frozen=True)
class TimeRange:
    """One range of ``time_partitions``: the four tables' partitions of [lo, hi)."""

    lo: datetime
    hi: datetime
    rolled_at: datetime | None
    traces_dropped_at: datetime | None
    scores_dropped_at: datetime | None

    def name(self, table: str) -> str:
        """The partition of ``table`` for this range (as ``vigil_create_partitions`` names it)."""
        return partition_name(table, self.lo)


def partition_name(table: str, lo: datetime) -> str:
    return f"{table}_p{lo.astimezone(UTC):%Y%m%d}"


def ensure(
    conn: Conn, times: Iterable[datetime], max_ahead: timedelta = MAX_AHEAD
) -> set[datetime]:
    """Make sure a partition holds each of ``times``; returns those refused: older than the
    traces' retention, or more than ``max_ahead`` in the future.

    Call it inside the write transaction, before any row lock: when a range is missing, it
    takes a transaction-level lock and locks the parents SHARE UPDATE EXCLUSIVE, which must
    not wait behind a row lock this transaction holds. Usually nothing is missing, and it is
    one indexed probe a distinct time.
    """
    distinct = sorted(set(times))
    if not distinct:
        return set()
    row = conn.execute(
        "SELECT vigil_ensure_partitions(%s::timestamptz[], %s) AS refused", (distinct, max_ahead)
    ).fetchone()
    assert row is not None
    return set(row["refused"])


def ensure_ahead(conn: Conn, now: datetime) -> None:
    """Make the partitions of this week and of the next two (the flows call it, so that the
    write path seldom has to)."""
    ensure(conn, [now + step for step in AHEAD], max_ahead=AHEAD[-1] + timedelta(days=1))


def ranges(conn: Conn) -> list[TimeRange]:
    """Every range partitioned, dropped ones included, oldest first."""
    rows = conn.execute(
        "SELECT lo, hi, rolled_at, traces_dropped_at, scores_dropped_at FROM time_partitions"
        " ORDER BY lo"
    ).fetchall()
    return [TimeRange(**r) for r in rows]


def kept_from(conn: Conn) -> dict[str, datetime | None]:
    """Per data ('traces', 'scores'), the time before which retention dropped it (None:
    nothing was dropped). Ranges are dropped oldest first."""
    row = conn.execute(
        "SELECT max(hi) FILTER (WHERE traces_dropped_at IS NOT NULL) AS traces,"
        " max(hi) FILTER (WHERE scores_dropped_at IS NOT NULL) AS scores FROM time_partitions"
    ).fetchone()
    assert row is not None
    return {"traces": row["traces"], "scores": row["scores"]}


def sizes(conn: Conn) -> list[dict[str, Any]]:
    """Each partition that exists: table, range, estimated rows and size on disk."""
    return conn.execute(
        """
        SELECT parent.relname AS table, p.lo, p.hi, c.relname AS partition,
               greatest(c.reltuples, 0)::bigint AS rows_estimate,
               pg_total_relation_size(c.oid) AS bytes
        FROM time_partitions p
        CROSS JOIN unnest(%s::text[]) AS t(name)
        JOIN pg_class c ON c.oid = to_regclass(quote_ident(
                 t.name || '_p' || to_char(p.lo AT TIME ZONE 'UTC', 'YYYYMMDD')))
        JOIN pg_inherits i ON i.inhrelid = c.oid
        JOIN pg_class parent ON parent.oid = i.inhparent
        ORDER BY p.lo, parent.relname
        """,
        (list(TABLES),),
    ).fetchall()


def drop(
    conn: Conn,
    names: list[str],
    *,
    lock_timeout: timedelta = timedelta(seconds=2),
    tries: int = 10,
    pause: float = 1.0,
) -> None:
    """DROP these partitions, inside the caller's transaction.

    Dropping a partition locks its parent ACCESS EXCLUSIVE, and while that lock waits, every
    later reader and writer of the table queues behind it. So each try waits at most
    ``lock_timeout`` and gives way (rolled back to a savepoint) before trying again, as it
    does when PostgreSQL picks it as a deadlock's victim (a receiver holding the traces and
    waiting for the spans that this drop holds); after ``tries``, it raises, and the
    caller's transaction rolls back whole.
    """
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("drop() must run inside a transaction, with what it drops for")
    statement = sql.SQL("DROP TABLE IF EXISTS {}").format(
        sql.SQL(", ").join(sql.Identifier(n) for n in names)
    )
    for attempt in range(1, tries + 1):
        try:
            with conn.transaction():
                row = conn.execute(
                    "SELECT current_setting('lock_timeout') AS before,"
                    " set_config('lock_timeout', %s, true)",
                    (f"{int(lock_timeout.total_seconds() * 1000)}ms",),
                ).fetchone()
                assert row is not None
                conn.execute(statement)
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (row["before"],))
            return
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as err:
            # A writer that holds one of the tables and waits for another that this drop
            # holds is a deadlock: PostgreSQL cancels one side, and this side gives way too.
            if attempt == tries:
                raise VigilError(
                    f"Could not drop {', '.join(names)}: their tables stayed busy through "
                    f"{tries} tries of {lock_timeout.total_seconds():g}s. Nothing was dropped; "
                    "the next retention run tries again (or run `vigil retention run` when "
                    "the load is lower)."
                ) from err
            time.sleep(pause)


@contextmanager
def partition_errors() -> Iterator[None]:
    """Turn PostgreSQL's "no partition found for row" into an error that says what to do.

    It should not happen: every write path ensures its ranges first.
    """
    try:
        yield
    except psycopg.errors.CheckViolation as err:
        if "no partition of relation" not in str(err):
            raise
        raise VigilError(
            f"{err.diag.message_primary}: its time range has no partition. Partitions are made "
            "by the write path, and two weeks ahead by `vigil up`, the receiver and the flows; "
            "make one by hand with SELECT vigil_ensure_partitions(ARRAY['<time>']::timestamptz[])"
            " and retry."
        ) from err
