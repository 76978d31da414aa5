"""The review queue: traces a person should look at, who holds each, and their labels.

A reviewer claims the next item (:func:`claim_next`) for a lease; an expired lease makes the
item claimable again. Every label and relabel is kept (:func:`label_history`); a label is
refused when someone else labeled the item since the reviewer looked at it
(:class:`LabeledMeanwhile`). A labeled item can become a reviewed example
(:func:`add_reviewed_example`), the seed of a golden dataset.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from vigil.db.types import Conn
from vigil.errors import VigilError

LABELS = ("correct", "hallucinated", "irrelevant", "unsafe", "other")


class LabeledMeanwhile(VigilError):
    """Someone else labeled the item after the reviewer was shown it (a stale screen, an
    expired lease): their label is not overwritten unseen."""


@dataclass(frozen=True)
class Filters:
    """Which pending items a reviewer works on; None: any."""

    app: str | None = None
    regression_id: int | None = None
    evaluator: str | None = None
    audit: bool | None = None  # True: only the audit sample; False: only regression items


# The items a reviewer may see (%(apps)s, None: every app) that match the filters. An item
# carries its trace's app (migration 0017): labelled items outlive their traces' retention.
_SCOPE = """
    (%(apps)s::text[] IS NULL OR i.app = ANY(%(apps)s::text[]))
    AND (%(app)s::text IS NULL OR i.app = %(app)s)
    AND (%(regression)s::bigint IS NULL OR i.regression_id = %(regression)s)
    AND (%(evaluator)s::text IS NULL OR i.evaluator = %(evaluator)s)
    AND (%(audit)s::boolean IS NULL OR (i.audit_day IS NOT NULL) = %(audit)s)
"""
# Regression items worst score first, then the audit sample, oldest first.
_PRIORITY = "(i.regression_id IS NULL), i.score ASC NULLS LAST, i.created_at, i.id"


def _scope(apps: Sequence[str] | None, filters: Filters) -> dict[str, Any]:
    return {
        "apps": None if apps is None else list(apps),
        "app": filters.app,
        "regression": filters.regression_id,
        "evaluator": filters.evaluator,
        "audit": filters.audit,
    }


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
               (SELECT s.value FROM scores s JOIN trace_ids k ON k.part_time = s.trace_start
                WHERE k.id = u.id AND s.trace_id = u.id AND s.evaluator = %(ev)s
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


def enqueue_audit(conn: Conn, day: date, per_day: int, app: str | None = None) -> int:
    """Queue a random sample of the day's scored traces (``per_day`` at most, the same ones
    at every pass: chosen by a hash of the id and the day), so that reviewers also see
    traces that no regression picked. Idempotent."""
    cur = conn.execute(
        """
        INSERT INTO review_items (trace_id, reason, audit_day)
        SELECT t.id, 'audit sample of ' || %(day)s::text, %(day)s
        FROM traces t
        WHERE t.start_time >= %(day)s::date AND t.start_time < %(day)s::date + 1
          AND t.part_time >= %(day)s::date
          AND (%(app)s::text IS NULL OR t.app = %(app)s)
          AND EXISTS (SELECT 1 FROM scores s WHERE s.trace_id = t.id
                      AND s.trace_start = t.part_time AND s.status = 'scored')
        ORDER BY md5(t.id || %(day)s::text) LIMIT %(n)s
        ON CONFLICT DO NOTHING
        """,
        {"day": day, "app": app, "n": per_day},
    )
    return max(cur.rowcount, 0)


_ITEM_COLUMNS = """
    i.id, i.trace_id, i.regression_id, i.reason, i.evaluator, i.score, i.status, i.label,
    i.note, i.corrected_answer, i.reviewer, i.labeled_at, i.created_at, i.audit_day,
    i.claimed_by, i.claimed_at, i.lease_expires_at, i.app
"""


def claim_next(
    conn: Conn,
    reviewer: str,
    apps: Sequence[str] | None,
    filters: Filters = Filters(),
    lease: timedelta = timedelta(minutes=15),
    *,
    skip: Collection[int] = (),
) -> dict[str, Any] | None:
    """Give ``reviewer`` the highest-priority pending item of ``apps`` (None: every app)
    that nobody else holds (or whose lease expired), for ``lease``; None when there is none.
    An item the reviewer already holds can come back to them, with a new lease.

    One conditional UPDATE: the candidate row is locked with SKIP LOCKED and re-checked, so
    two reviewers claiming at once never get the same item. ``skip``: item ids not wanted
    now (the one a reviewer just passed over).
    """
    return conn.execute(
        f"""
        UPDATE review_items i
        SET claimed_by = %(who)s, claimed_at = now(), lease_expires_at = now() + %(lease)s
        WHERE i.id = (
            SELECT i.id FROM review_items i
            WHERE i.status = 'pending'
              AND (i.claimed_by IS NULL OR i.claimed_by = %(who)s OR i.lease_expires_at <= now())
              AND NOT (i.id = ANY(%(skip)s::bigint[]))
              AND {_SCOPE}
            ORDER BY {_PRIORITY}
            LIMIT 1
            FOR UPDATE OF i SKIP LOCKED
        )
        RETURNING {_ITEM_COLUMNS}
        """,
        {"who": _name(reviewer), "lease": lease, "skip": list(skip), **_scope(apps, filters)},
    ).fetchone()


def current_claim(conn: Conn, reviewer: str, apps: Sequence[str] | None) -> dict[str, Any] | None:
    """The pending item ``reviewer`` holds under a live lease, if any (the latest claimed)."""
    return conn.execute(
        f"""
        SELECT {_ITEM_COLUMNS} FROM review_items i
        WHERE i.status = 'pending' AND i.claimed_by = %(who)s AND i.lease_expires_at > now()
          AND (%(apps)s::text[] IS NULL OR i.app = ANY(%(apps)s::text[]))
        ORDER BY i.claimed_at DESC LIMIT 1
        """,
        {"who": reviewer, "apps": None if apps is None else list(apps)},
    ).fetchone()


def release(conn: Conn, item_id: int, reviewer: str) -> bool:
    """Give back ``reviewer``'s claim on a pending item; False when they did not hold it."""
    cur = conn.execute(
        "UPDATE review_items SET claimed_by = NULL, claimed_at = NULL, lease_expires_at = NULL"
        " WHERE id = %s AND claimed_by = %s AND status = 'pending'",
        (item_id, reviewer),
    )
    if cur.rowcount == 1:
        conn.execute(
            "INSERT INTO review_events (item_id, actor, action) VALUES (%s, %s, 'release')",
            (item_id, reviewer),
        )
    return cur.rowcount == 1


def item(conn: Conn, item_id: int, apps: Sequence[str] | None) -> dict[str, Any] | None:
    """One item with its trace's app, its regression's headline and ``label_id``, the id of
    its latest label (None: unlabeled; what a screen passes to :func:`label` as
    ``seen_label``); None when it does not exist or its app is not among ``apps`` (None:
    every app)."""
    return conn.execute(
        f"""
        SELECT {_ITEM_COLUMNS}, r.headline AS regression,
               (SELECT max(l.id) FROM review_labels l WHERE l.item_id = i.id) AS label_id
        FROM review_items i
        LEFT JOIN regressions r ON r.id = i.regression_id
        WHERE i.id = %(id)s AND (%(apps)s::text[] IS NULL OR i.app = ANY(%(apps)s::text[]))
        """,
        {"id": item_id, "apps": None if apps is None else list(apps)},
    ).fetchone()


def list_items(
    conn: Conn,
    *,
    status: str | None = "pending",
    apps: Sequence[str] | None = None,
    filters: Filters = Filters(),
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Items of ``apps`` matching ``filters``: pending ones in claim order, labeled ones
    latest first."""
    order = _PRIORITY if status == "pending" else "i.labeled_at DESC NULLS LAST, i.id DESC"
    return conn.execute(
        f"""
        SELECT {_ITEM_COLUMNS}, t.start_time, t.input, t.output, t.model, t.prompt_version
        FROM review_items i  -- a labelled item's trace may be gone (retention)
        LEFT JOIN traces t ON t.id = i.trace_id AND t.part_time = i.part_time
        WHERE (%(status)s::text IS NULL OR i.status = %(status)s) AND {_SCOPE}
        ORDER BY {order} LIMIT %(limit)s
        """,
        {"status": status, "limit": limit, **_scope(apps, filters)},
    ).fetchall()


def filter_choices(conn: Conn, apps: Sequence[str] | None) -> dict[str, list[Any]]:
    """The apps, regressions and evaluators that pending items of ``apps`` have."""
    rows = conn.execute(
        """
        SELECT array_agg(DISTINCT i.app ORDER BY i.app) AS apps,
               array_agg(DISTINCT i.regression_id ORDER BY i.regression_id)
                   FILTER (WHERE i.regression_id IS NOT NULL) AS regressions,
               array_agg(DISTINCT i.evaluator ORDER BY i.evaluator)
                   FILTER (WHERE i.evaluator IS NOT NULL) AS evaluators
        FROM review_items i
        WHERE i.status = 'pending' AND (%(apps)s::text[] IS NULL OR i.app = ANY(%(apps)s::text[]))
        """,
        {"apps": None if apps is None else list(apps)},
    ).fetchone()
    assert rows is not None
    return {key: value or [] for key, value in rows.items()}


def label(
    conn: Conn,
    item_id: int,
    *,
    reviewer: str,
    label: str,
    seen_label: int | None,
    note: str | None = None,
    corrected_answer: str | None = None,
) -> dict[str, Any]:
    """Label (or relabel) an item and keep the label in its history; returns the history row.

    ``seen_label``: the latest label the reviewer was shown (the ``label_id`` of
    :func:`item`, the ``id`` of a history row), None when they saw the item unlabeled. A
    label someone else set after it raises :class:`LabeledMeanwhile`: a reviewer whose lease
    expired while another labeled the item does not overwrite that label unseen; to relabel,
    they open the item again (and see the label they replace). Their own later labels (another
    tab) do not count.

    Atomic: its own transaction (a savepoint inside the caller's). A pending item that
    another reviewer holds under a live lease is refused; labeling ends the claim.
    """
    if label not in LABELS:
        raise VigilError(f"Unknown label {label!r}; use one of: {', '.join(LABELS)}.")
    who = _name(reviewer)
    with conn.transaction():
        row = conn.execute(
            "SELECT status, claimed_by, lease_expires_at, lease_expires_at > now() AS held"
            " FROM review_items WHERE id = %s FOR UPDATE",
            (item_id,),
        ).fetchone()
        if row is None:
            raise VigilError(f"Review item {item_id} does not exist.")
        if row["status"] == "pending" and row["held"] and row["claimed_by"] != who:
            raise VigilError(
                f"Review item {item_id} is claimed by {row['claimed_by']} until "
                f"{row['lease_expires_at'].astimezone(UTC):%H:%M} UTC; claim the next item instead."
            )
        newer = conn.execute(
            "SELECT reviewer, label FROM review_labels WHERE item_id = %s AND id > %s"
            " AND reviewer <> %s ORDER BY id DESC LIMIT 1",
            (item_id, seen_label or 0, who),
        ).fetchone()
        if newer is not None:
            raise LabeledMeanwhile(
                f"{newer['reviewer']} labeled this item meanwhile ({newer['label']!r}); "
                "reopen it to relabel."
            )
        conn.execute(
            "UPDATE review_items SET status = 'labeled', label = %s, note = %s,"
            " corrected_answer = %s, reviewer = %s, labeled_at = now(),"
            " claimed_by = NULL, claimed_at = NULL, lease_expires_at = NULL WHERE id = %s",
            (label, note, corrected_answer, who, item_id),
        )
        action = "relabel" if row["status"] == "labeled" else "label"
        conn.execute(
            "INSERT INTO review_events (item_id, actor, action, label, note)"
            " VALUES (%s, %s, %s, %s, %s)",
            (item_id, who, action, label, note),
        )
        history = conn.execute(
            "INSERT INTO review_labels (item_id, label, note, corrected_answer, reviewer)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING *",
            (item_id, label, note, corrected_answer, who),
        ).fetchone()
    assert history is not None
    return history


def label_history(conn: Conn, item_id: int) -> list[dict[str, Any]]:
    """Every label of an item, oldest first."""
    return conn.execute(
        "SELECT label, note, corrected_answer, reviewer, labeled_at FROM review_labels"
        " WHERE item_id = %s ORDER BY labeled_at, id",
        (item_id,),
    ).fetchall()


def item_events(conn: Conn, item_id: int) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT actor, action, label, note, at FROM review_events WHERE item_id = %s"
        " ORDER BY at, id",
        (item_id,),
    ).fetchall()


def add_reviewed_example(conn: Conn, item_id: int, *, added_by: str) -> bool:
    """Keep a labeled item's trace as a reviewed example (the golden dataset's seed): its
    question and contexts, and as reference the corrected answer, or the answer itself when
    it was labeled correct. False when the trace is already an example (idempotent)."""
    row = conn.execute(
        "SELECT status, label, corrected_answer FROM review_items WHERE id = %s", (item_id,)
    ).fetchone()
    if row is None:
        raise VigilError(f"Review item {item_id} does not exist.")
    if row["status"] != "labeled":
        raise VigilError(f"Label item {item_id} before adding it to the golden dataset.")
    if not row["corrected_answer"] and row["label"] != "correct":
        raise VigilError(
            f"Item {item_id} is labeled {row['label']!r}: give a corrected answer (and save "
            "the label again) before adding it to the golden dataset."
        )
    gone = conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM traces t JOIN review_items i ON t.id = i.trace_id"
        " AND t.part_time = i.part_time WHERE i.id = %s) AS gone",
        (item_id,),
    ).fetchone()
    if gone is not None and gone["gone"] and not reviewed_example_of_item(conn, item_id):
        raise VigilError(
            f"Item {item_id}'s trace was dropped by retention (`vigil retention show`): it can no"
            " longer become a reviewed example."
        )
    cur = conn.execute(
        """
        INSERT INTO reviewed_examples (trace_id, item_id, app, question, contexts, answer,
                                       corrected, label, note, added_by)
        SELECT t.id, i.id, t.app, t.input,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                                    'document_id', r.document_id, 'content', r.content,
                                    'rank', r.rank, 'score', r.score)
                                ORDER BY r.span_id, r.rank)
                         FROM retrievals r
                         WHERE r.trace_id = t.id AND r.part_time = t.part_time), '[]'::jsonb),
               coalesce(nullif(i.corrected_answer, ''), t.output, ''),
               coalesce(i.corrected_answer, '') <> '', i.label, i.note, %(who)s
        FROM review_items i JOIN traces t ON t.id = i.trace_id AND t.part_time = i.part_time
        WHERE i.id = %(id)s
        ON CONFLICT (trace_id) DO NOTHING
        """,
        {"id": item_id, "who": _name(added_by)},
    )
    return cur.rowcount == 1


def reviewed_example_of_item(conn: Conn, item_id: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM reviewed_examples e JOIN review_items i ON i.trace_id = e.trace_id"
        " WHERE i.id = %s",
        (item_id,),
    ).fetchone()
    return row is not None


def reviewed_example(conn: Conn, trace_id: str) -> dict[str, Any] | None:
    return conn.execute(
        "SELECT * FROM reviewed_examples WHERE trace_id = %s", (trace_id,)
    ).fetchone()


def _name(reviewer: str) -> str:
    if not reviewer.strip():
        raise VigilError("A review action needs the reviewer's name.")
    return reviewer.strip()
