"""Regressions page once and resolve once, on a real PostgreSQL, through the recorder:
the trigger carries the cause, an update is not a new page, a resolve follows the clean
windows, and every attempt is in the delivery log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flows import alerting
from flows.alert_delivery import DeliveryReport, deliver
from flows.detection import detect
from flows.windows import detection_windows
from tests.detection.test_lifecycle import POLICY, START, seed_day
from tests.fakes.recorder import Recorder
from vigil.settings import load_settings
from vigil.store import regressions as reg_store


def pass_and_deliver(conn, day: int) -> DeliveryReport:  # type: ignore[no-untyped-def]
    """One detection pass over day ``day`` with its alerts queued in the same transaction,
    then delivery, as the detect-regressions and deliver-alerts tasks do."""
    settings = load_settings()
    config = alerting.destinations(settings)
    assert config is not None
    window, baseline = detection_windows(START + timedelta(days=day + 1), 24, 7)
    with conn.transaction():
        detect(conn, window, baseline, policy=POLICY)
        alerting.sync_regressions(conn, config, settings, now=window[1])  # a live pass
    return deliver(settings, config)


def incident(conn) -> None:  # type: ignore[no-untyped-def]
    for day in range(7):
        seed_day(conn, day)
    seed_day(conn, 7, bad_technical=True)


def test_one_trigger_with_the_cause_then_no_page_on_update_then_one_resolve(
    conn, alerts_file: Path, rec: Recorder
) -> None:  # type: ignore[no-untyped-def]
    incident(conn)
    report = pass_and_deliver(conn, 7)
    assert report.failed == [] and report.delivered >= 3
    triggers = rec.to("/pd")
    reg = reg_store.list_regressions(conn, status="open")
    assert len(triggers) == len(reg) >= 1  # one page per regression
    by_key = {t.body["dedup_key"]: t.body for t in triggers}
    main = next(r for r in reg if r["metric"] == "score" and r["segment"] == {})
    page = by_key[f"vigil-regression-{main['id']}"]
    assert page["routing_key"] == "R0UTINGKEY" and page["event_action"] == "trigger"
    details = page["payload"]["custom_details"]
    assert "route=technical" in details["attribution"][0]  # the segment that explains it
    assert details["before"] > details["after"]
    assert page["payload"]["severity"] == "error" and page["payload"]["source"] == "vigil/shop"
    assert any(link["href"].endswith(f"/regressions?regression={main['id']}")
               for link in page["links"])  # fmt: skip
    worst = conn.execute(
        "SELECT trace_id FROM review_items WHERE regression_id = %s"
        " ORDER BY score ASC NULLS LAST, id LIMIT 1", (main["id"],),
    ).fetchone()["trace_id"]  # fmt: skip
    assert {"href": f"http://127.0.0.1:8501/traces?trace={worst}", "text": "worst trace"} in (
        page["links"]
    )
    assert len(rec.to("/slack")) == len(reg) and len(rec.to("/hook")) == len(reg)
    assert rec.to("/hook")[0].headers["Authorization"] == "Bearer s3cret"

    again = pass_and_deliver(conn, 7)  # the same window again: the rows are refreshed
    assert again.delivered == 0 and len(rec.to("/pd")) == len(triggers)

    for day in (8, 9):
        seed_day(conn, day)
        pass_and_deliver(conn, day)
    resolves = [r.body for r in rec.to("/pd") if r.body["event_action"] == "resolve"]
    assert sorted(r["dedup_key"] for r in resolves) == sorted(by_key)  # each page, once
    assert reg_store.list_regressions(conn, status="open") == []
    for day in (10, 11):  # quiet days after the resolve send nothing more
        seed_day(conn, day)
        pass_and_deliver(conn, day)
    assert len(rec.to("/pd")) == 2 * len(triggers)


def test_a_reopened_regression_pages_again_as_a_new_episode(
    conn, alerts_file: Path, rec: Recorder
) -> None:  # type: ignore[no-untyped-def]
    incident(conn)
    pass_and_deliver(conn, 7)
    for day in (8, 9):
        seed_day(conn, day)
        pass_and_deliver(conn, day)
    first = len(rec.to("/pd"))
    seed_day(conn, 10, bad_technical=True)
    pass_and_deliver(conn, 10)
    fresh = [r.body for r in rec.to("/pd")[first:]]
    assert fresh and all(b["event_action"] == "trigger" for b in fresh)
    episodes = conn.execute(
        "SELECT DISTINCT episode FROM alert_notices WHERE source_key = %s AND action = 'trigger'",
        (f"regression:{fresh[0]['dedup_key'].rsplit('-', 1)[1]}",),
    ).fetchall()
    assert sorted(e["episode"] for e in episodes) == [1, 2]


def test_retries_on_500_are_logged_and_a_refusing_destination_holds_up_no_other(
    conn, alerts_file: Path, rec: Recorder
) -> None:  # type: ignore[no-untyped-def]
    incident(conn)
    rec.on("/pd", 500, 502)  # PagerDuty fails twice, then accepts
    rec.on("/slack", *[400] * 10)  # Slack refuses: a revoked webhook
    report = pass_and_deliver(conn, 7)
    n = len(reg_store.list_regressions(conn, status="open"))
    pd = conn.execute(
        "SELECT n.status, n.attempts, array_agg(a.status_code ORDER BY a.attempt) AS codes"
        " FROM alert_notices n JOIN alert_attempts a ON a.notice_id = n.id"
        " WHERE n.destination = 'oncall' GROUP BY n.id ORDER BY n.id"
    ).fetchall()
    assert pd[0]["codes"] == [500, 502, 202] and pd[0]["status"] == "delivered"
    assert all(r["status"] == "delivered" for r in pd) and len(pd) == n
    slack = conn.execute(
        "SELECT status, attempts, last_status FROM alert_notices WHERE destination = 'channel'"
        " ORDER BY id"
    ).fetchall()
    assert slack[0] == {"status": "failed", "attempts": 1, "last_status": 400}
    assert [r["status"] for r in slack[1:]] == ["pending"] * (n - 1)  # for the next pass
    assert len(report.failed) == 1 and "channel" in report.failed[0]
    assert report.deferred == n - 1
    assert len(rec.to("/hook")) == n  # the webhook got every alert regardless


def test_a_broken_alerts_file_is_reported_and_the_next_pass_catches_up(
    conn, alerts_file: Path, rec: Recorder, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    incident(conn)
    broken = alerts_file.with_name("broken.yaml")
    broken.write_text("destinations:\n  - {name: x, type: slack}\n")
    monkeypatch.setenv("VIGIL_ALERTS_FILE", str(broken))
    window, baseline = detection_windows(START + timedelta(days=8), 24, 7)
    warnings: list[str] = []
    with conn.transaction():
        found = detect(conn, window, baseline, policy=POLICY)
        alerting.queue_alerts(conn, load_settings(), window[1], window[1], warnings.append)
    assert found and reg_store.list_regressions(conn, status="open")  # the pass stands
    assert warnings == [f"alerts not queued by this pass: {broken}: destination 'x': url: "
                        "Field required"]  # fmt: skip
    assert conn.execute("SELECT count(*) AS n FROM alert_notices").fetchone()["n"] == 0

    monkeypatch.setenv("VIGIL_ALERTS_FILE", str(alerts_file))  # fixed
    pass_and_deliver(conn, 7)
    assert len(rec.to("/pd")) == len(found)


def test_regressions_of_a_backfilled_past_are_recorded_without_a_page(
    conn, alerts_file: Path, rec: Recorder
) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    incident(conn)
    settings = load_settings()
    config = alerting.destinations(settings)
    assert config is not None
    window, baseline = detection_windows(START + timedelta(days=8), 24, 7)
    with conn.transaction():
        found = detect(conn, window, baseline, policy=POLICY)
        alerting.sync_regressions(conn, config, settings, now=datetime.now(UTC))
    assert found and conn.execute("SELECT count(*) AS n FROM alert_notices").fetchone()["n"] == 0
    pass_and_deliver(conn, 7)  # the same regressions seen by a live pass: paged
    assert len(rec.to("/pd")) == len(found)
