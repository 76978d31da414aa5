"""The review queue: traces a person should look at, their labels, and who set them."""

from __future__ import annotations

from datetime import date

from vigil.db.types import Conn
from vigil.errors import VigilError

LABELS = ("correct", "hallucinated", "irrelevant", "bad_retrieval", "other")


def enqueue_traces(
    conn: Conn,
    *,
    regression_id: int,
    trace_ids: list[str],
    reason: str,
    evaluator: str | None = None,
    evaluator_version: str | None = None,
    limit: int = 20,
) -> int:
    """Queue these traces (worst first) for a regression, up to ``limit`` items in all for
    it (later windows of a lasting regression add nothing once it has them); with an
    evaluator, each item carries that evaluator version's score. Idempotent."""
    cur = conn.execute(
        """
        INSERT INTO review_items (trace_id, regression_id, reason, evaluator, score)
        SELECT u.id, %(rid)s, %(reason)s, %(ev)s,
               (SELECT s.value FROM scores s WHERE s.trace_id = u.id AND s.evaluator = %(ev)s
                  AND s.evaluator_version = %(ver)s AND s.status = 'scored')
        FROM unnest(%(ids)s::text[]) WITH ORDINALITY AS u(id, n)
        WHERE NOT EXISTS (SELECT 1 FROM review_items q
                          WHERE q.trace_id = u.id AND q.regression_id = %(rid)s)
        ORDER BY u.n
        LIMIT GREATEST(%(limit)s - (SELECT count(*) FROM review_items
                                    WHERE regression_id = %(rid)s), 0)
        ON CONFLICT (trace_id, regression_id) DO NOTHING
        """,
        {"rid": regression_id, "reason": reason, "ev": evaluator, "ver": evaluator_version,
         "ids": trace_ids, "limit": limit},
    )  # fmt: skip
    return max(cur.rowcount, 0)


def enqueue_audit(
    conn: Conn, day: date, per_day: int, app: str | None = None
) -> int:
    """Queue a random sample of the day's scored traces (``per_day`` at most, the same ones
    at every pass: chosen by a hash of the id and the day), so that reviewers also see
    traces that no regression picked. Idempotent."""
    cur = conn.execute(
        """
        INSERT INTO review_items (trace_id, reason, audit_day)
        SELECT t.id, 'audit sample of ' || %(day)s::text, %(day)s
        FROM traces t
        WHERE t.start_time >= %(day)s::date AND t.start_time < %(day)s::date + 1
          AND (%(app)s::text IS NULL OR t.app = %(app)s)
          AND EXISTS (SELECT 1 FROM scores s WHERE s.trace_id = t.id AND s.status = 'scored')
        ORDER BY md5(t.id || %(day)s::text) LIMIT %(n)s
        ON CONFLICT DO NOTHING
        """,
        {"day": day, "app": app, "n": per_day},
    )
    return max(cur.rowcount, 0)


def list_items(conn: Conn, *, status: str | None = "pending", limit: int = 100) -> list[dict]:
    return conn.execute(
        """
        SELECT i.id, i.trace_id, i.regression_id, i.reason, i.evaluator, i.score, i.status,
               i.label, i.note, i.reviewer, i.labeled_at, i.created_at,
               t.app, t.start_time, t.input, t.output, t.model, t.prompt_version
        FROM review_items i JOIN traces t ON t.id = i.trace_id
        WHERE (%(status)s::text IS NULL OR i.status = %(status)s)
        ORDER BY i.score ASC NULLS LAST, i.id LIMIT %(limit)s
        """,
        {"status": status, "limit": limit},
    ).fetchall()


def label_item(
    conn: Conn, item_id: int, *, label: str, reviewer: str, note: str | None = None
) -> None:
    """Record a reviewer's label and the event, in the caller's transaction."""
    if label not in LABELS:
        raise VigilError(f"Unknown label {label!r}; use one of: {', '.join(LABELS)}.")
    if not reviewer.strip():
        raise VigilError("A label needs the reviewer's name.")
    cur = conn.execute(
        "UPDATE review_items SET status = 'labeled', label = %s, note = %s, reviewer = %s,"
        " labeled_at = now() WHERE id = %s",
        (label, note, reviewer.strip(), item_id),
    )
    if cur.rowcount != 1:
        raise VigilError(f"Review item {item_id} does not exist.")
    conn.execute(
        "INSERT INTO review_events (item_id, actor, action, label, note)"
        " VALUES (%s, %s, 'label', %s, %s)",
        (item_id, reviewer.strip(), label, note),
    )


def item_events(conn: Conn, item_id: int) -> list[dict]:
    return conn.execute(
        "SELECT actor, action, label, note, at FROM review_events WHERE item_id = %s ORDER BY at",
        (item_id,),
    ).fetchall()
