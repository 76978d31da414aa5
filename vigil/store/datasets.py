"""Golden datasets (migration 0015): immutable numbered versions of items.

Saving a version is one transaction under a lock on the dataset's row, so two imports at
once make two versions in order, never a half-written one. Saving content equal to one of
the dataset's versions stores nothing and returns that version (imports are idempotent, and
a pull request that restores main's content is back on main's version and its baselines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.golden.item import NAME_RULE, GoldenItem, is_dataset_name, version_hash


@dataclass(frozen=True)
class Version:
    id: int
    dataset: str
    version: int
    items: int
    content_hash: str
    created: bool  # False: the content equalled the latest version, nothing was stored

    @property
    def label(self) -> str:
        return f"{self.dataset}@{self.version}"


def save_version(conn: Conn, name: str, items: Sequence[GoldenItem], *, by: str,
                 change: str) -> Version:  # fmt: skip
    """Store ``items`` as the dataset's next version, unless they equal one it has."""
    if not by.strip():
        raise VigilError("a dataset version records who made it: pass --by NAME")
    if not items:
        raise VigilError(f"dataset {name!r}: a version needs at least one item")
    keys = [i.id for i in items]
    if len(set(keys)) != len(keys):
        raise VigilError(f"dataset {name!r}: item ids must be unique")
    content = version_hash(list(items))
    with conn.transaction():
        conn.execute(
            "INSERT INTO datasets (name, created_by) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
            (_valid_name(name), by.strip()),
        )
        dataset = conn.execute(
            "SELECT id FROM datasets WHERE name = %s FOR UPDATE", (name,)
        ).fetchone()
        assert dataset is not None
        same = conn.execute(
            "SELECT id, version, items FROM dataset_versions WHERE dataset_id = %s"
            " AND content_hash = %s ORDER BY version DESC LIMIT 1",
            (dataset["id"], content),
        ).fetchone()
        if same is not None:
            return Version(same["id"], name, same["version"], same["items"], content, False)
        latest = conn.execute(
            "SELECT max(version) AS v FROM dataset_versions WHERE dataset_id = %s",
            (dataset["id"],),
        ).fetchone()
        number = (latest["v"] or 0) + 1 if latest is not None else 1
        row = conn.execute(
            "INSERT INTO dataset_versions (dataset_id, version, content_hash, items, change,"
            " created_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (dataset["id"], number, content, len(items), change, by.strip()),
        ).fetchone()
        assert row is not None
        hashes = [i.content_hash() for i in items]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO golden_items (hash, item) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(h, Jsonb(i.model_dump(mode="json", exclude_none=True)))
                 for h, i in zip(hashes, items, strict=True)],
            )  # fmt: skip
        conn.execute(
            "INSERT INTO dataset_items (version_id, position, key, item_hash)"
            " SELECT %s, p - 1, k, h FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY"
            " AS x(k, h, p)",
            (row["id"], keys, hashes),
        )
    return Version(row["id"], name, number, len(items), content, True)


@dataclass(frozen=True)
class Extended:
    version: Version
    added: int
    replaced: int


def extend(conn: Conn, name: str, new: Sequence[GoldenItem], *, by: str,
           change: str) -> Extended:  # fmt: skip
    """The latest version with ``new`` appended (an item whose id is there already replaces
    it: an edit), saved as the next version; one transaction under the dataset's lock, so
    two concurrent adds both land."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO datasets (name, created_by) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
            (_valid_name(name), by.strip() or "?"),
        )
        conn.execute("SELECT id FROM datasets WHERE name = %s FOR UPDATE", (name,))
        latest = conn.execute(
            "SELECT v.id FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id"
            " WHERE d.name = %s ORDER BY v.version DESC LIMIT 1",
            (name,),
        ).fetchone()
        merged = {i.id: i for i in (items(conn, latest["id"]) if latest else [])}
        replaced = sum(1 for i in new if i.id in merged and merged[i.id] != i)
        added = sum(1 for i in new if i.id not in merged)
        merged.update({i.id: i for i in new})
        version = save_version(conn, name, list(merged.values()), by=by, change=change)
    return Extended(version, added, replaced)


def resolve(conn: Conn, spec: str) -> Version:
    """``NAME`` (its latest version) or ``NAME@VERSION``."""
    name, _, number = spec.partition("@")
    if number and not number.isdigit():
        raise VigilError(f"{spec!r}: a version is a number, as in {name}@3")
    row = conn.execute(
        "SELECT v.id, v.version, v.items, v.content_hash FROM dataset_versions v"
        " JOIN datasets d ON d.id = v.dataset_id WHERE d.name = %s"
        " AND (%s::int IS NULL OR v.version = %s::int) ORDER BY v.version DESC LIMIT 1",
        (name, int(number) if number else None, int(number) if number else None),
    ).fetchone()
    if row is None:
        known = [r["name"] for r in conn.execute("SELECT name FROM datasets ORDER BY name")]
        if name in known:
            raise VigilError(f"dataset {name!r} has no version {number}; "
                             f"`vigil datasets show {name}` lists its versions")  # fmt: skip
        hint = f" Known: {', '.join(known)}." if known else ""
        raise VigilError(f"no dataset named {name!r}.{hint} Import one with "
                         f"`vigil datasets import FILE.jsonl --name {name}`.")  # fmt: skip
    return Version(row["id"], name, row["version"], row["items"], row["content_hash"], False)


def items(conn: Conn, version_id: int) -> list[GoldenItem]:
    rows = conn.execute(
        "SELECT g.item FROM dataset_items d JOIN golden_items g ON g.hash = d.item_hash"
        " WHERE d.version_id = %s ORDER BY d.position",
        (version_id,),
    ).fetchall()
    return [GoldenItem.model_validate(r["item"]) for r in rows]


def listing(conn: Conn) -> list[dict[str, Any]]:
    """Each dataset with its latest version."""
    return conn.execute(
        "SELECT d.name, v.version, v.items, v.change, v.created_by, v.created_at,"
        " (SELECT count(*) FROM dataset_versions w WHERE w.dataset_id = d.id) AS versions"
        " FROM datasets d JOIN LATERAL (SELECT * FROM dataset_versions w WHERE"
        " w.dataset_id = d.id ORDER BY w.version DESC LIMIT 1) v ON true ORDER BY d.name"
    ).fetchall()


def versions(conn: Conn, name: str) -> list[dict[str, Any]]:
    """A dataset's versions, newest first, with the gate runs that used each."""
    return conn.execute(
        "SELECT v.id, v.version, v.items, v.change, v.created_by, v.created_at, v.content_hash,"
        " (SELECT count(*) FROM gate_runs r WHERE r.dataset_version_id = v.id) AS gate_runs"
        " FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = %s"
        " ORDER BY v.version DESC",
        (name,),
    ).fetchall()


def reviewed(
    conn: Conn, *, label: str | None, since: datetime | None, app: str | None,
    trace_ids: Sequence[str] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Labeled review items (the latest label of each trace) with their trace's question,
    answer and retrieved chunks, for :func:`vigil.golden.reviewed.from_review`."""
    return conn.execute(
        """
        SELECT l.*, coalesce((SELECT array_agg(r.content ORDER BY r.span_id, r.rank)
                              FROM retrievals r WHERE r.trace_id = l.trace_id
                                AND r.part_time = l.part_time), '{}') AS contexts
        FROM (SELECT DISTINCT ON (t.id) t.id AS trace_id, t.app, t.input, t.output,
                     t.part_time, i.id AS item_id, i.label, i.reviewer, i.labeled_at,
                     i.corrected_answer
              FROM review_items i JOIN traces t ON t.id = i.trace_id AND t.part_time = i.part_time
              WHERE i.status = 'labeled'
                AND (%(app)s::text IS NULL OR t.app = %(app)s)
                AND (%(ids)s::text[] IS NULL OR t.id = ANY(%(ids)s::text[]))
              ORDER BY t.id, i.labeled_at DESC, i.id DESC) l  -- each trace's latest label
        WHERE (%(label)s::text IS NULL OR l.label = %(label)s)
          AND (%(since)s::timestamptz IS NULL OR l.labeled_at >= %(since)s)
        ORDER BY l.trace_id
        """,
        {"label": label, "since": since, "app": app,
         "ids": None if trace_ids is None else list(trace_ids)},
    ).fetchall()  # fmt: skip


def _valid_name(name: str) -> str:
    if not is_dataset_name(name):
        raise VigilError(f"dataset name {name!r}: use {NAME_RULE}")
    return name
