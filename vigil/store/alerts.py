"""Alert state and the delivery outbox (migration 0007).

:func:`fire` and :func:`quiet` move a source (a regression, an SLO, a canary) between quiet
and firing, and queue notices in the caller's transaction, so an alert is queued exactly
when the state it reports is committed; :func:`lock` makes concurrent passes take turns.
:func:`claim_next` hands one pending notice to a sender (``FOR NO KEY UPDATE SKIP LOCKED``:
concurrent senders never send the same one), attempts are logged as they happen, and
:func:`finish` records the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn

FINAL = ("delivered", "failed")
_LOCK = 0x56494749_4C414C54  # "VIGILALT": the advisory lock of alert state changes


def lock(conn: Conn) -> None:
    """Take the alert-state lock until the transaction ends. Passes that queue alerts
    (detection, canaries) take turns from here, and each reads what the last committed:
    without it, a pass could page a regression another pass has just resolved."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))


def state(conn: Conn, source_key: str, kind: str, app: str) -> dict[str, Any]:
    """The source's state row, created quiet if new, locked until the transaction ends."""
    conn.execute(
        "INSERT INTO alert_states (source_key, kind, app, firing) VALUES (%s, %s, %s, false)"
        " ON CONFLICT (source_key) DO NOTHING",
        (source_key, kind, app),
    )
    row = conn.execute(
        "SELECT * FROM alert_states WHERE source_key = %s FOR UPDATE", (source_key,)
    ).fetchone()
    assert row is not None
    return row


def fire(conn: Conn, source_key: str, kind: str, app: str, alert: dict[str, Any],
         destinations: Iterable[str]) -> int | None:  # fmt: skip
    """Firing: a quiet source starts a new episode and queues a trigger per destination.
    An already firing one is not paged again (an update is not a new page); only a
    destination that has not had this episode's trigger gets it: one added to the file
    since, or one whose severity filter the alert now passes. Returns the new episode, or
    None when it was firing already."""
    current = state(conn, source_key, kind, app)
    if current["firing"]:
        for dest in destinations:
            _queue(conn, dest, source_key, int(current["episode"]), "trigger", alert)
        return None
    episode = int(current["episode"]) + 1
    conn.execute(
        "UPDATE alert_states SET firing = true, episode = %s, fired_at = now(),"
        " resolved_at = NULL, updated_at = now() WHERE source_key = %s",
        (episode, source_key),
    )
    for dest in destinations:
        _queue(conn, dest, source_key, episode, "trigger", alert)
    return episode


def quiet(conn: Conn, source_key: str, alert: dict[str, Any]) -> int | None:
    """Quiet again: queue a resolve to each destination that got this episode's trigger.
    Returns the episode resolved, or None when the source was not firing."""
    row = conn.execute(
        "SELECT * FROM alert_states WHERE source_key = %s FOR UPDATE", (source_key,)
    ).fetchone()
    if row is None or not row["firing"]:
        return None
    conn.execute(
        "UPDATE alert_states SET firing = false, resolved_at = now(), updated_at = now()"
        " WHERE source_key = %s",
        (source_key,),
    )
    triggered = conn.execute(
        "SELECT destination FROM alert_notices WHERE source_key = %s AND episode = %s"
        " AND action = 'trigger'",
        (source_key, row["episode"]),
    ).fetchall()
    for r in triggered:
        _queue(conn, r["destination"], source_key, row["episode"], "resolve", alert)
    return int(row["episode"])


def firing(conn: Conn, kind: str) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT * FROM alert_states WHERE kind = %s AND firing ORDER BY source_key", (kind,)
    ).fetchall()


def queue_test(conn: Conn, destination: str, source_key: str, alert: dict[str, Any]) -> int:
    """A one-off notice (``vigil alerts test``): its own source key, episode 1."""
    return _queue(conn, destination, source_key, 1, str(alert["action"]), alert)


def _queue(conn: Conn, dest: str, source_key: str, episode: int, action: str,
           alert: dict[str, Any]) -> int:  # fmt: skip
    row = conn.execute(
        """INSERT INTO alert_notices (destination, source_key, episode, action, alert)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (destination, source_key, episode, action) DO NOTHING RETURNING id""",
        (dest, source_key, episode, action, Jsonb({**alert, "action": action})),
    ).fetchone()
    return int(row["id"]) if row else 0


def claim_next(conn: Conn, after_id: int, ids: list[int] | None = None) -> dict[str, Any] | None:
    """The oldest pending notice after ``after_id`` (optionally among ``ids``) that is due
    and that no other sender holds, locked until ``conn``'s transaction ends. A notice
    waits while an older one of the same source is pending for its destination, so a
    destination hears trigger, resolve, trigger in the order they happened.

    ``NO KEY UPDATE``, not ``UPDATE``: the attempt log is written on another connection
    while the claim is held, and its foreign key takes ``KEY SHARE`` on this row, which
    ``FOR UPDATE`` would block for good (a wait PostgreSQL cannot see as a deadlock)."""
    return conn.execute(
        """SELECT * FROM alert_notices n
           WHERE n.status = 'pending' AND n.id > %(after)s
             AND (%(ids)s::bigint[] IS NULL OR n.id = ANY(%(ids)s))
             AND (n.next_attempt_at IS NULL OR n.next_attempt_at <= now())
             AND NOT EXISTS (
                 SELECT 1 FROM alert_notices t WHERE t.destination = n.destination
                   AND t.source_key = n.source_key AND t.id < n.id AND t.status = 'pending')
           ORDER BY n.id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED""",
        {"after": after_id, "ids": ids},
    ).fetchone()


def log_attempt(conn: Conn, notice_id: int, attempt: int, status_code: int | None,
                error: str | None, duration_ms: float) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO alert_attempts (notice_id, attempt, status_code, error, duration_ms)"
        " VALUES (%s, %s, %s, %s, %s)",
        (notice_id, attempt, status_code, error, duration_ms),
    )


def finish(conn: Conn, notice_id: int, status: str, attempts: int, status_code: int | None,
           error: str | None) -> None:  # fmt: skip
    """The notice's final state, ``delivered`` or ``failed``."""
    conn.execute(
        """UPDATE alert_notices SET status = %s, attempts = attempts + %s, last_status = %s,
               last_error = %s, finished_at = now(), next_attempt_at = NULL WHERE id = %s""",
        (status, attempts, status_code, error, notice_id),
    )


def retry_later(conn: Conn, notice_id: int, attempts: int, status_code: int | None,
                error: str | None, give_up_hours: float) -> str:  # fmt: skip
    """The destination seems down: leave the notice for a later pass (after a pause that
    doubles with each pass, up to an hour), or mark it failed once it is
    ``give_up_hours`` old. Returns the status it is left in."""
    row = conn.execute(
        """UPDATE alert_notices SET attempts = attempts + %(n)s, last_status = %(code)s,
               last_error = %(error)s,
               status = CASE WHEN created_at < now() - make_interval(secs => %(limit)s)
                             THEN 'failed' ELSE 'pending' END,
               finished_at = CASE WHEN created_at < now() - make_interval(secs => %(limit)s)
                                  THEN now() END,
               next_attempt_at = now() + LEAST(interval '1 hour', interval '1 minute'
                   * power(2, LEAST(attempts / GREATEST(%(n)s, 1), 6)))
           WHERE id = %(id)s RETURNING status""",
        {"n": attempts, "code": status_code, "error": error, "id": notice_id,
         "limit": give_up_hours * 3600.0},
    ).fetchone()  # fmt: skip
    assert row is not None
    return str(row["status"])


def give_up(conn: Conn, ids: list[int], reason: str) -> None:
    """Mark these notices failed if still pending and no sender holds them."""
    conn.execute(
        """UPDATE alert_notices SET status = 'failed', finished_at = now(),
               last_error = COALESCE(last_error || '; ', '') || %s, next_attempt_at = NULL
           WHERE id IN (SELECT id FROM alert_notices WHERE id = ANY(%s) AND status = 'pending'
                        FOR NO KEY UPDATE SKIP LOCKED)""",
        (reason, ids),
    )


def notice(conn: Conn, notice_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM alert_notices WHERE id = %s", (notice_id,)).fetchone()
    assert row is not None
    return row


def notices(conn: Conn, *, source_key: str | None = None, destination: str | None = None,
            limit: int = 50) -> list[dict[str, Any]]:  # fmt: skip
    return conn.execute(
        """SELECT n.*, (SELECT json_agg(a ORDER BY a.attempt) FROM alert_attempts a
                        WHERE a.notice_id = n.id) AS attempt_log
           FROM alert_notices n
           WHERE (%(key)s::text IS NULL OR n.source_key = %(key)s)
             AND (%(dest)s::text IS NULL OR n.destination = %(dest)s)
           ORDER BY n.id DESC LIMIT %(limit)s""",
        {"key": source_key, "dest": destination, "limit": limit},
    ).fetchall()


_REGRESSION = """SELECT r.*, e.flow_run_id,
                   (SELECT i.trace_id FROM review_items i WHERE i.regression_id = r.id
                    ORDER BY i.score ASC NULLS LAST, i.id LIMIT 1) AS example_trace
                 FROM regressions r LEFT JOIN eval_runs e ON e.id = r.run_id"""


def regressions_unresolved(conn: Conn) -> list[dict[str, Any]]:
    """Open and acknowledged regressions, with the Prefect run that last saw each and
    the worst trace they queued for review."""
    return conn.execute(f"{_REGRESSION} WHERE r.status <> 'resolved' ORDER BY r.id").fetchall()


def regressions_quieted(conn: Conn) -> list[dict[str, Any]]:
    """Resolved regressions whose alert is still firing: they need their resolve sent."""
    return conn.execute(
        f"""{_REGRESSION} JOIN alert_states s ON s.source_key = 'regression:' || r.id
            WHERE s.firing AND r.status = 'resolved' ORDER BY r.id"""
    ).fetchall()
