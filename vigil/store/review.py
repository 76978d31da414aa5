"""The review queue: traces a person should look at, their labels, and who set them."""

from __future__ import annotations

from datetime import datetime

from vigil.db.types import Conn
from vigil.errors import VigilError

LABELS = ("correct", "hallucinated", "irrelevant", "bad_retrieval", "other")


def enqueue_worst(
    conn: Conn,
    *,
    regression_id: int,
    app: str,
    evaluator: str,
    evaluator_version: str,
    window: tuple[datetime, datetime],
    limit: int,
) -> int:
    """Queue the ``limit`` lowest-scoring traces of a regression's window; idempotent."""
    cur = conn.execute(
        """
        INSERT INTO review_items (trace_id, regression_id, reason, evaluator, score)
        SELECT s.trace_id, %(rid)s, 'low ' || s.evaluator || ' in regression #' || %(rid)s,
               s.evaluator, s.value
        FROM scores s
        WHERE s.app = %(app)s AND s.evaluator = %(ev)s AND s.evaluator_version = %(ver)s
          AND s.status = 'scored' AND s.value IS NOT NULL
          AND s.trace_start >= %(ws)s AND s.trace_start < %(we)s
        ORDER BY s.value ASC, s.trace_id LIMIT %(limit)s
        ON CONFLICT (trace_id, regression_id) DO NOTHING
        """,
        {
            "rid": regression_id,
            "app": app,
            "ev": evaluator,
            "ver": evaluator_version,
            "ws": window[0],
            "we": window[1],
            "limit": limit,
        },
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
