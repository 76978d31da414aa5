"""Delivery outcomes on a real PostgreSQL: a destination that is down keeps its notices for
later passes until they are too old; one that refuses, or that left the file, fails them
at once without holding up the others; a destination hears a source's notices in order."""

from __future__ import annotations

from pathlib import Path

from flows.alert_delivery import deliver
from flows.alerting import destinations
from tests.fakes.recorder import Recorder
from vigil.settings import load_settings
from vigil.store import alerts as store

ALERT = {"kind": "regression", "key": "vigil-regression-1", "app": "shop", "title": "worse",
         "severity": "error", "action": "trigger"}  # fmt: skip


def send_all():  # type: ignore[no-untyped-def]
    settings = load_settings()
    config = destinations(settings)
    assert config is not None
    return deliver(settings, config)


def test_a_destination_that_is_down_is_retried_by_later_passes_then_given_up(
    conn, alerts_file: Path, rec: Recorder
) -> None:  # type: ignore[no-untyped-def]
    store.fire(conn, "regression:1", "regression", "shop", ALERT, ["oncall"])
    rec.on("/pd", *[503] * 5)  # the five attempts of the first pass
    first = send_all()
    assert first.delivered == 0 and len(first.retrying) == 1 and not first.failed
    row = conn.execute("SELECT * FROM alert_notices").fetchone()
    assert row["status"] == "pending" and row["attempts"] == 5 and row["last_status"] == 503
    assert row["next_attempt_at"] is not None
    assert send_all().retrying == [] and len(rec.to("/pd")) == 5  # not due yet: not tried

    conn.execute("UPDATE alert_notices SET next_attempt_at = now()")  # the pause is over
    second = send_all()
    assert second.delivered == 1 and second.ok
    row = conn.execute("SELECT * FROM alert_notices").fetchone()
    assert row["status"] == "delivered" and row["attempts"] == 6
    codes = conn.execute("SELECT status_code FROM alert_attempts ORDER BY id").fetchall()
    assert [c["status_code"] for c in codes] == [503] * 5 + [202]

    store.fire(conn, "regression:2", "regression", "shop", {**ALERT, "key": "k2"}, ["oncall"])
    conn.execute("UPDATE alert_notices SET created_at = now() - interval '2 days'"
                 " WHERE source_key = 'regression:2'")  # fmt: skip
    rec.on("/pd", *[503] * 5)
    old = send_all()
    assert len(old.failed) == 1 and "given up after 24 h" in old.failed[0]
    status = conn.execute("SELECT status FROM alert_notices WHERE source_key = 'regression:2'")
    assert status.fetchone() == {"status": "failed"}


def test_a_destination_gone_from_the_file_fails_its_notice_and_the_rest_go_out(
    conn, alerts_file: Path, rec: Recorder
) -> None:  # type: ignore[no-untyped-def]
    store.fire(conn, "regression:1", "regression", "shop", ALERT, ["retired", "hook"])
    report = send_all()
    assert report.delivered == 1 and len(report.failed) == 1
    assert "no alert destination 'retired'" in report.failed[0]
    assert len(rec.to("/hook")) == 1


def test_a_destination_hears_a_sources_notices_in_the_order_they_happened(
    conn, alerts_file: Path, rec: Recorder
) -> None:  # type: ignore[no-untyped-def]
    store.fire(conn, "regression:1", "regression", "shop", ALERT, ["oncall"])
    rec.on("/pd", *[503] * 5)
    send_all()  # the trigger waits for a later pass
    store.quiet(conn, "regression:1", {**ALERT, "action": "resolve"})
    store.fire(conn, "regression:1", "regression", "shop", ALERT, ["oncall"])  # episode 2
    assert send_all().delivered == 0  # both wait behind the first trigger
    conn.execute("UPDATE alert_notices SET next_attempt_at = now()")
    assert send_all().delivered == 3
    sent = [(r.body["event_action"], r.status) for r in rec.to("/pd") if r.status == 202]
    assert sent == [("trigger", 202), ("resolve", 202), ("trigger", 202)]
    episodes = conn.execute("SELECT episode, action FROM alert_notices ORDER BY id").fetchall()
    assert [(e["episode"], e["action"]) for e in episodes] == [
        (1, "trigger"), (1, "resolve"), (2, "trigger")]  # fmt: skip
