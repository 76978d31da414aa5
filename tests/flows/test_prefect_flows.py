"""The Prefect flows themselves, on a temporary Prefect server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.events.filters import EventFilter, EventNameFilter
from prefect.events.worker import EventsWorker
from prefect.testing.utilities import prefect_test_harness

from flows.backfill import backfill
from flows.detect import detect
from flows.evaluate_window import evaluate_window
from flows.retention import retention


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server (SQLite) for the module: it takes ~25 s to start."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_backfill_runs_a_child_flow_per_day_and_finds_the_regression(
    conn,
    world,
    plan,
    prefect_server,  # type: ignore[no-untyped-def]
) -> None:
    start = plan.start
    result = backfill(start=start, end=plan.end)
    assert result["chunks"] == plan.days
    n_traces = conn.execute("SELECT count(*) AS n FROM traces").fetchone()["n"]
    assert result["traces"] == n_traces
    assert result["errors"] == 0
    assert result["regressions"]  # the day prompt v2 shipped; none before it (test_evaluation)

    runs = conn.execute(
        "SELECT kind, status, traces_total, traces_done, flow_run_id FROM eval_runs"
    ).fetchall()
    assert len(runs) == plan.days
    assert all(r["kind"] == "backfill" and r["status"] == "completed" for r in runs)
    assert all(r["traces_total"] == r["traces_done"] and r["flow_run_id"] for r in runs)

    # A second backfill finds nothing left to score, and stores nothing twice.
    scores = conn.execute("SELECT count(*) AS n FROM scores").fetchone()["n"]
    again = backfill(start=start, end=start + timedelta(days=2))
    assert again["traces"] == 0
    assert conn.execute("SELECT count(*) AS n FROM scores").fetchone()["n"] == scores

    # Only the backfill's own flow runs heartbeat; the day runs in its process do not.
    with get_client(sync_client=True) as client:
        parents = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["backfill"]))
        )
    beating = _heartbeating_flow_runs(expect={str(p.id) for p in parents})
    assert {str(p.id) for p in parents} <= beating
    assert not beating & {str(r["flow_run_id"]) for r in runs}

    # detect alone, over the regression's window, refreshes the same row and keeps its run.
    found = conn.execute(
        "SELECT id FROM regressions WHERE metric = 'score' AND evaluator = 'groundedness'"
    ).fetchone()["id"]
    assert found in result["regressions"]
    before = conn.execute("SELECT * FROM regressions WHERE id = %s", (found,)).fetchone()
    assert sorted(detect(end=before["window_end"])) == sorted(result["regressions"])
    after = conn.execute("SELECT * FROM regressions WHERE id = %s", (found,)).fetchone()
    assert after["run_id"] == before["run_id"] is not None
    assert after["updated_at"] > before["updated_at"]


def test_a_scheduled_run_derives_its_window(conn, db_url, prefect_server) -> None:  # type: ignore[no-untyped-def]
    result = evaluate_window()
    run = conn.execute("SELECT * FROM eval_runs WHERE id = %s", (result["run_id"],)).fetchone()
    assert run["kind"] == "window" and run["status"] == "completed"
    assert run["window_end"] - run["window_start"] == timedelta(minutes=15)
    assert run["window_end"].minute % 15 == 0


def test_a_bad_window_is_refused(db_url, prefect_server) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="not after start"):
        evaluate_window(start=now, end=now - timedelta(hours=1))


def test_the_retention_flow_makes_partitions_ahead_and_drops_by_policy(
    conn,
    db_url,
    prefect_server,  # type: ignore[no-untyped-def]
) -> None:
    """A run with no policy only makes the next partitions; with one, a dry run lists what
    would go (the drops themselves: tests/store/test_retention.py, on a database of its own)."""
    from datetime import UTC, datetime

    from vigil.store import partitions

    now = datetime.now(UTC)
    assert retention() == ["nothing to drop"]
    assert any(r.lo <= now + timedelta(days=14) < r.hi for r in partitions.ranges(conn))
    partitions.ensure(conn, [now - timedelta(days=30)])
    conn.execute(
        "INSERT INTO retention_policies (data, keep_days, updated_by) VALUES ('traces', 14, 't')"
    )
    planned = retention(dry_run=True)
    assert planned and all(line.startswith("would drop traces of") for line in planned)
    assert not any(r.traces_dropped_at for r in partitions.ranges(conn))


def _heartbeating_flow_runs(expect: set[str], timeout_s: float = 30.0) -> set[str]:
    """Ids of the flow runs the server has heartbeat events of, once it has those of
    ``expect`` (events are sent and stored in the background)."""
    EventsWorker.drain_all(timeout=timeout_s)
    deadline, seen = time.monotonic() + timeout_s, set[str]()
    while True:
        names = EventNameFilter(name=["prefect.flow-run.heartbeat"])
        with get_client(sync_client=True) as client:
            page = client.read_events(filter=EventFilter(event=names), limit=50)
        seen = {e.resource.id.removeprefix("prefect.flow-run.") for e in page.events}
        if expect <= seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.5)


def test_a_refusing_alert_destination_fails_only_the_delivery_task(
    conn, tmp_path, monkeypatch, prefect_server
) -> None:  # type: ignore[no-untyped-def]
    """Detection is committed and the flow completes; the deliver-alerts task run is the
    one that shows failed in the UI, and the other destination got its pages."""
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    from tests.detection.test_lifecycle import START, seed_day
    from tests.fakes.recorder import recorder

    for day in range(7):
        seed_day(conn, day)
    seed_day(conn, 7, bad_technical=True)
    with recorder() as rec:
        rec.on("/refuses", *[403] * 20)
        (tmp_path / "alerts.yaml").write_text(
            "destinations:\n"
            f"  - {{name: revoked, type: slack, url: '{rec.url}/refuses'}}\n"
            f"  - {{name: hook, type: webhook, url: '{rec.url}/hook'}}\n"
        )
        monkeypatch.setenv("VIGIL_ALERTS_FILE", str(tmp_path / "alerts.yaml"))
        monkeypatch.setenv("VIGIL_ALERT_MAX_AGE_HOURS", "1e6")  # the seeded days are past
        found = detect(end=START + timedelta(days=8))
        assert found
        assert len(rec.to("/hook")) == len(found)
        assert len(rec.to("/refuses")) == 1  # a 403 is not retried
    stored = conn.execute("SELECT count(*) AS n FROM regressions").fetchone()["n"]
    assert stored == len(found)
    failed = conn.execute(
        "SELECT status, last_status FROM alert_notices WHERE destination = 'revoked' ORDER BY id"
    ).fetchall()
    assert failed[0] == {"status": "failed", "last_status": 403}
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="deliver-alerts"))
        )
    assert runs and all(r.state is not None and r.state.is_failed() for r in runs)
