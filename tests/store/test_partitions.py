"""Time partitions (migration 0017): made on demand by the write paths, aligned on weeks,
once however many writers ask at once, refused for times retention would drop or that lie
too far ahead."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.db.helpers import database_at
from vigil.db import connect, migrate
from vigil.db.migrate import available
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.models import Trace
from vigil.store import partitions, traces

WEDNESDAY = datetime(2024, 3, 6, 15, 30, tzinfo=UTC)  # a week no other test writes to
MONDAY = datetime(2024, 3, 4, tzinfo=UTC)


def _range_of(conn: Conn, at: datetime) -> partitions.TimeRange:
    (found,) = [r for r in partitions.ranges(conn) if r.lo <= at < r.hi]
    return found


def _exists(conn: Conn, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS e", (name,)).fetchone()
    return bool(row and row["e"])


def test_a_partition_is_made_for_a_week_on_demand_once(conn: Conn) -> None:
    assert partitions.ensure(conn, [WEDNESDAY, WEDNESDAY + timedelta(days=1)]) == set()
    week = _range_of(conn, WEDNESDAY)
    assert (week.lo, week.hi) == (MONDAY, MONDAY + timedelta(days=7))  # Monday to Monday, UTC
    for table in partitions.TABLES:
        assert _exists(conn, f"{table}_p20240304")
    before = partitions.ranges(conn)
    assert partitions.ensure(conn, [WEDNESDAY]) == set()  # idempotent
    assert partitions.ranges(conn) == before


def test_traces_too_far_ahead_or_past_the_retention_are_refused(conn: Conn) -> None:
    now = datetime.now(UTC)
    ahead = now + timedelta(days=3)
    assert partitions.ensure(conn, [ahead, now]) == {ahead}
    conn.execute(
        "INSERT INTO retention_policies (data, keep_days, updated_by) VALUES ('traces', 30, 't')"
    )
    old = now - timedelta(days=40)
    assert partitions.ensure(conn, [old, now - timedelta(days=2)]) == {old}
    result = traces.insert_traces(
        conn, [Trace(id="old", app="a", start_time=old), Trace(id="new", app="a", start_time=now)]
    )
    assert (result.inserted, result.already_present, result.refused) == (1, 0, ["old"])
    assert conn.execute("SELECT count(*) AS n FROM trace_ids WHERE id = 'old'").fetchone()["n"] == 0


def test_two_writers_asking_for_the_same_week_make_it_once(db_url: str) -> None:
    at = datetime(2024, 5, 15, tzinfo=UTC)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with connect(db_url, autocommit=True) as own, own.transaction():
                barrier.wait(10)
                partitions.ensure(own, [at + timedelta(hours=i)])
                traces.insert_trace_rows(
                    own, [Trace(id=f"w{i}", app="a", start_time=at + timedelta(hours=i))], [True]
                )
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with connect(db_url, autocommit=True) as conn:
        made = [r for r in partitions.ranges(conn) if r.lo <= at < r.hi]
        assert len(made) == 1
        assert (
            conn.execute("SELECT count(*) AS n FROM traces WHERE id LIKE 'w_'").fetchone()["n"] == 2
        )


def test_a_row_without_a_partition_is_a_clear_error(conn: Conn) -> None:
    never = Trace(id="lost", app="a", start_time=datetime(2019, 1, 1, tzinfo=UTC))
    with pytest.raises(VigilError, match="no partition") as caught:
        traces.insert_trace_rows(conn, [never], [True])
    assert "vigil_ensure_partitions" in str(caught.value)


@pytest.fixture
def own_db(admin_url: str) -> Iterator[Conn]:
    """A database of its own: this test changes the partition width, which others share."""
    with database_at(admin_url, "vigil_partition_width", available()[-1].name) as conn:
        migrate(conn)
        yield conn


def test_a_narrower_width_applies_to_new_ranges_clipped_by_their_neighbours(own_db: Conn) -> None:
    conn = own_db
    partitions.ensure(conn, [WEDNESDAY])  # 2024-03-04 .. 03-11
    conn.execute("UPDATE partitioning SET days = 3")
    late = MONDAY + timedelta(days=7, hours=1)  # the 3-day cells here: 03-03, 03-09
    partitions.ensure(conn, [MONDAY - timedelta(hours=1), late])
    spans = {
        (r.lo, r.hi) for r in partitions.ranges(conn) if r.lo < datetime(2024, 4, 1, tzinfo=UTC)
    }
    week = (MONDAY, MONDAY + timedelta(days=7))
    assert week in spans
    before = next(s for s in spans if s[0] <= MONDAY - timedelta(hours=1) < s[1])
    after = next(s for s in spans if s[0] <= late < s[1])
    assert before == (MONDAY - timedelta(days=1), MONDAY)  # [03-03, 03-06) clipped
    assert after == (week[1], week[1] + timedelta(days=1))  # [03-09, 03-12) clipped
    ordered = sorted(partitions.ranges(conn), key=lambda r: r.lo)
    assert all(a.hi <= b.lo for a, b in itertools.pairwise(ordered))  # no overlap
