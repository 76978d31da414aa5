"""The store's reads between two snapshots: a row counts in the first snapshot that sees
its transaction committed, and in no other."""

from __future__ import annotations

from tests.metrics import world
from vigil.store import metrics as store


def test_a_commit_after_the_newer_snapshot_waits_for_the_next_read(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    before = store.current_snapshot(conn)
    world.traces(conn, ["a"], "first")
    middle = store.current_snapshot(conn)
    world.traces(conn, ["b"], "second")  # committed after `middle` was taken
    first = list(store.completed_traces(conn, before, middle))
    assert [r["segment"] for r in first] == [{"route": "a"}]
    after = store.current_snapshot(conn)
    assert [r["segment"] for r in store.completed_traces(conn, middle, after)] == [{"route": "b"}]
    assert list(store.completed_traces(conn, after, store.current_snapshot(conn))) == []


def test_an_incomplete_trace_counts_when_it_completes(conn) -> None:  # type: ignore[no-untyped-def]
    before = store.current_snapshot(conn)
    conn.execute(
        "INSERT INTO traces (id, app, start_time, complete, part_time)"
        " VALUES ('x', 'a', now(), false, now())"
    )
    middle = store.current_snapshot(conn)
    assert list(store.completed_traces(conn, before, middle)) == []
    conn.execute("UPDATE traces SET complete = true WHERE id = 'x'")
    conn.execute("UPDATE traces SET latency_ms = 5 WHERE id = 'x'")  # still one completion
    after = store.current_snapshot(conn)
    assert [r["latency_ms"] for r in store.completed_traces(conn, middle, after)] == [5.0]
    assert list(store.completed_traces(conn, after, store.current_snapshot(conn))) == []


def test_ingest_counts_add_up_across_shards(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute("TRUNCATE ingest_counts")
    store.add_ingest_counts(conn, [store.IngestCount("a", "stored", "", 0, 3)], shard=1)
    stored = store.IngestCount("a", "stored", "", 0, 4)
    store.add_ingest_counts(conn, [stored, stored._replace(spans=1)], shard=2)
    store.add_ingest_counts(conn, [store.IngestCount("a", "stored", "", 0, 2)], shard=1)
    assert store.ingest_totals(conn) == [store.IngestCount("a", "stored", "", 0, 10)]
