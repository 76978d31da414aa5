"""Golden dataset versions: immutable, idempotent, safe under concurrent adds; reviewed
traces become items."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pytest

from tests.cli.helpers import seed
from tests.ui.pages import seed as ui_seed
from vigil.db import connect
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.golden import GoldenItem
from vigil.golden.reviewed import add_reviewed
from vigil.store import datasets
from vigil.store.review import label


def _items(*keys: str, answer: str = "yes") -> list[GoldenItem]:
    return [GoldenItem(id=k, input=f"question {k}?", reference=answer) for k in keys]


def test_same_content_stores_nothing_and_other_content_makes_a_new_version(conn: Conn) -> None:
    first = datasets.save_version(conn, "faq", _items("a", "b"), by="ann", change="import")
    again = datasets.save_version(conn, "faq", _items("a", "b"), by="bob", change="import")
    assert (first.version, first.created, again.version, again.created) == (1, True, 1, False)
    second = datasets.save_version(conn, "faq", _items("a", "b", answer="no"), by="ann",
                                   change="edit")  # fmt: skip
    assert (second.version, second.created) == (2, True)
    assert [i.reference for i in datasets.items(conn, first.id)] == ["yes", "yes"]  # unchanged
    assert datasets.resolve(conn, "faq").version == 2
    assert datasets.resolve(conn, "faq@1").id == first.id
    shared = conn.execute("SELECT count(*) AS n FROM golden_items").fetchone()
    assert shared is not None and shared["n"] == 4  # items stored once, shared by versions


def test_a_version_cannot_be_changed_or_deleted(conn: Conn) -> None:
    version = datasets.save_version(conn, "faq", _items("a"), by="ann", change="import")
    changes = ("UPDATE dataset_items SET key = 'z'", "DELETE FROM dataset_items",
               "UPDATE dataset_versions SET items = 9", "DELETE FROM golden_items")
    for statement in changes:
        with pytest.raises(psycopg.errors.RestrictViolation, match="immutable"):
            conn.execute(statement)
    assert [i.id for i in datasets.items(conn, version.id)] == ["a"]


def test_unknown_datasets_and_versions_say_what_to_do(conn: Conn) -> None:
    with pytest.raises(VigilError, match=r"no dataset named 'faq'.*vigil datasets import"):
        datasets.resolve(conn, "faq")
    datasets.save_version(conn, "faq", _items("a"), by="ann", change="import")
    with pytest.raises(VigilError, match="has no version 7"):
        datasets.resolve(conn, "faq@7")
    with pytest.raises(VigilError, match="dataset name 'no spaces please'"):
        datasets.save_version(conn, "no spaces please", _items("a"), by="ann", change="x")


def test_concurrent_adds_both_land_in_order(db_url: str, conn: Conn) -> None:
    datasets.save_version(conn, "faq", _items("a"), by="ann", change="import")
    barrier = threading.Barrier(4)

    def add(key: str) -> None:
        with connect(db_url, autocommit=True) as own:
            barrier.wait()
            datasets.extend(own, "faq", _items(key), by=key, change=f"add {key}")

    threads = [threading.Thread(target=add, args=(k,)) for k in ("b", "c", "d", "e")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latest = datasets.resolve(conn, "faq")
    assert latest.version == 5
    assert sorted(i.id for i in datasets.items(conn, latest.id)) == ["a", "b", "c", "d", "e"]


def test_a_dataset_built_from_reviewed_traces(conn: Conn) -> None:
    seed(conn, datetime(2026, 11, 2, tzinfo=UTC), n=4, prefix="t")
    ids = {}
    for trace in ("t-0", "t-1", "t-2", "t-3"):
        row = conn.execute(
            "INSERT INTO review_items (trace_id, reason) VALUES (%s, 'test') RETURNING id",
            (trace,),
        ).fetchone()
        assert row is not None
        ids[trace] = row["id"]
    label(conn, ids["t-0"], reviewer="ann", label="correct", seen_label=None)
    label(conn, ids["t-1"], reviewer="ann", label="hallucinated", seen_label=None,
          corrected_answer="Product 1 cannot be returned.")  # fmt: skip
    label(conn, ids["t-2"], reviewer="bob", label="irrelevant", seen_label=None)  # no reference
    result = add_reviewed(conn, "reviewed", by="ann")
    assert result.version is not None and result.version.label == "reviewed@1"
    assert (result.added, result.replaced, result.left_out, result.labeled) == (2, 0, 1, 3)
    items = {i.id: i for i in datasets.items(conn, result.version.id)}
    assert items["trace-t-0"].reference == "Product 0 can be returned within 30 days."
    assert items["trace-t-1"].reference == "Product 1 cannot be returned."
    assert items["trace-t-1"].contexts == ["Product 1 can be returned within 30 days."]
    source = items["trace-t-1"].source
    assert source is not None and (source.kind, source.reviewer, source.corrected) == (
        "review", "ann", True)  # fmt: skip

    assert add_reviewed(conn, "reviewed", by="ann").version.created is False  # type: ignore[union-attr]
    label(conn, ids["t-0"], reviewer="ann", label="hallucinated", seen_label=None,
          corrected_answer="Within 14 days.")  # fmt: skip
    edited = add_reviewed(conn, "reviewed", by="ann", label="hallucinated")
    assert edited.version is not None and edited.version.version == 2
    assert (edited.added, edited.replaced) == (0, 1)
    assert {i.id: i.reference for i in datasets.items(conn, edited.version.id)}[
        "trace-t-0"] == "Within 14 days."  # fmt: skip


def test_content_equal_to_an_older_version_is_that_version(conn: Conn) -> None:
    """A pull request that restores main's items is back on main's version (and its
    baselines), instead of a copy without any."""
    first = datasets.save_version(conn, "faq", _items("a"), by="ann", change="main")
    datasets.save_version(conn, "faq", _items("a", "b"), by="bob", change="a pull request")
    again = datasets.save_version(conn, "faq", _items("a"), by="cy", change="main again")
    assert (again.id, again.version, again.created) == (first.id, 1, False)
    assert [v["version"] for v in datasets.versions(conn, "faq")] == [2, 1]


def test_a_label_filter_reads_each_traces_latest_label(conn: Conn) -> None:
    ui_seed(conn)  # trace t0 is queued by a regression
    first = conn.execute("SELECT id FROM review_items WHERE trace_id = 't0'").fetchone()
    assert first is not None
    label(conn, first["id"], reviewer="ann", label="correct", seen_label=None)
    later = conn.execute("INSERT INTO review_items (trace_id, reason, audit_day) VALUES"
                         " ('t0', 'audit', '2026-11-03') RETURNING id").fetchone()  # fmt: skip
    assert later is not None
    label(conn, later["id"], reviewer="bob", label="hallucinated", seen_label=None)
    taken = add_reviewed(conn, "ok", by="ann", label="correct", trace_ids=["t0"])
    assert (taken.version, taken.labeled) == (None, 0)  # relabeled since: not correct now
    wrong = add_reviewed(conn, "bad", by="ann", label="hallucinated", trace_ids=["t0"])
    assert (wrong.version, wrong.left_out) == (None, 1)  # no correction: no reference
