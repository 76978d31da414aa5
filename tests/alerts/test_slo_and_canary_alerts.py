"""SLO burns and worse canaries page once and resolve once, like regressions; and
`vigil alerts test` sends through the same queue and log."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flows import alerting
from flows.alert_delivery import deliver
from flows.canaries import check_canaries
from tests.cli.helpers import vigil
from tests.fakes.recorder import Recorder
from vigil.models import Score, Trace
from vigil.settings import load_settings
from vigil.slo import load as load_slos
from vigil.store.scores import ScoreRow, upsert_scores
from vigil.store.traces import insert_traces

SLOS = """slos:
  - {name: fast, app: shop, sli: {measure: latency_ms, bound: 4000}, target: 0.99, window: 1d}
  - {name: grounded, app: shop, sli: {evaluator: groundedness, threshold: 0.5}, target: 0.9,
     window: 1d}
"""


def seed_recent(conn, now: datetime, slow_share: float) -> None:  # type: ignore[no-untyped-def]
    """120 traces over the last hour, 30 s apart; ``slow_share`` of each ten over the 4 s
    bound (so of the last 5 minutes' ten too)."""
    traces = [
        Trace(id=f"r{i:03d}", app="shop", start_time=now - timedelta(seconds=30 * i + 5),
              input="q?", output="a.", latency_ms=9000.0 if i % 10 < 10 * slow_share else 900.0)
        for i in range(120)
    ]  # fmt: skip
    with conn.transaction():
        insert_traces(conn, traces)


def slo_pass(conn, now: datetime) -> int:  # type: ignore[no-untyped-def]
    settings = load_settings()
    config = alerting.destinations(settings)
    assert config is not None
    assert settings.slo_file is not None
    with conn.transaction():
        hot = alerting.sync_slos(conn, config, load_slos(settings.slo_file), settings, now)
    deliver(settings, config)
    return hot


def test_a_burning_slo_pages_once_critical_and_resolves_when_the_burn_stops(
    conn, alerts_file: Path, rec: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "slo.yaml").write_text(SLOS)
    monkeypatch.setenv("VIGIL_SLO_FILE", str(tmp_path / "slo.yaml"))
    now = datetime.now(UTC)
    seed_recent(conn, now, slow_share=0.3)  # 30% bad against a 1% budget: 30x on 1h and 5m
    assert slo_pass(conn, now) == 1  # "grounded" has no scores: no events, no burn
    assert slo_pass(conn, now + timedelta(minutes=1)) == 1  # still burning: no new page
    (page,) = [r.body for r in rec.to("/pd")]
    assert page["event_action"] == "trigger" and page["dedup_key"] == "vigil:slo:shop:fast"
    assert page["payload"]["severity"] == "critical"
    assert "SLO fast is burning its error budget: 1h/5m at 30.0x/30.0x (alert at 14.4x)" in (
        page["payload"]["summary"]
    )
    assert page["payload"]["custom_details"]["budget left"] < 1.0

    assert slo_pass(conn, now + timedelta(hours=7)) == 0  # the alert windows are empty now
    bodies = [r.body for r in rec.to("/pd")]
    assert [b["event_action"] for b in bodies] == ["trigger", "resolve"]
    assert bodies[1]["dedup_key"] == "vigil:slo:shop:fast"


def seed_canary(conn, now: datetime, worse: bool) -> None:  # type: ignore[no-untyped-def]
    """400 traces over the last 20 hours, half on prompt v4 (the canary), half on v3."""
    rng = random.Random(5)
    traces, rows = [], []
    for i in range(400):
        canary = i % 2 == 1
        at = now - timedelta(minutes=3 * i + 1)
        traces.append(Trace(id=f"k{i:04d}", app="shop", start_time=at, input="q?", output="a.",
                            prompt_version="v4" if canary else "v3", latency_ms=900.0))  # fmt: skip
        value = rng.gauss(0.45 if canary and worse else 0.75, 0.1)
        rows.append(ScoreRow(f"k{i:04d}", "groundedness", "2",
                             Score.scored(min(1.0, max(0.0, value)))))  # fmt: skip
    with conn.transaction():
        insert_traces(conn, traces)
        upsert_scores(conn, rows, None)


def test_a_worse_canary_pages_once_and_resolves_when_stopped(
    conn, db_url: str, alerts_file: Path, rec: Recorder
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    seed_canary(conn, now, worse=True)
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url}
    since = (now - timedelta(hours=21)).strftime("%Y-%m-%dT%H:%M:%S")
    started = vigil(["canary", "start", "--app", "shop", "--segment", "prompt_version=v4",
                     "--against", "prompt_version=v3", "--by", "ana", "--since", since],
                    env)  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert "canary #1: shop prompt_version=v4 against prompt_version=v3" in started.stdout
    assert check_canaries(load_settings(), now) == {1: "worse"}
    assert check_canaries(load_settings(), now) == {1: "worse"}  # still worse: no new page
    checked = vigil(["canary", "check"], env)  # the CLI's check delivers the queue
    assert checked.returncode == 0 and "canary #1: worse" in checked.stdout, checked.stderr
    (page,) = [r.body for r in rec.to("/pd")]
    assert page["dedup_key"] == "vigil-canary-1" and page["event_action"] == "trigger"
    assert "score:groundedness" in page["payload"]["summary"]
    assert page["payload"]["custom_details"]["segment"] == "prompt_version=v4"

    assert vigil(["canary", "stop", "1"], env).returncode == 0
    again = vigil(["canary", "check"], env)
    assert "no live canaries" in again.stdout, again.stdout
    assert "3 delivered" in again.stdout  # a resolve to each destination
    assert [r.body["event_action"] for r in rec.to("/pd")] == ["trigger", "resolve"]
    listed = vigil(["canary", "list"], env)
    assert "#1 shop prompt_version=v4 against prompt_version=v3 (stopped" in listed.stdout
    assert "by ana): worse at" in listed.stdout


def test_an_equal_canary_sends_nothing(conn, alerts_file: Path, rec: Recorder) -> None:  # type: ignore[no-untyped-def]
    from vigil.store import canaries

    now = datetime.now(UTC)
    seed_canary(conn, now, worse=False)
    canaries.start(conn, "shop", {"prompt_version": "v4"}, {"prompt_version": "v3"}, "ana",
                   now - timedelta(hours=21))  # fmt: skip
    assert check_canaries(load_settings(), now) == {1: "not worse"}
    deliver(load_settings(), alerting.destinations(load_settings()))  # type: ignore[arg-type]
    assert rec.requests == []


def test_alerts_test_sends_through_the_log_and_names_a_refusal(
    conn, db_url: str, alerts_file: Path, rec: Recorder
) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url}
    sent = vigil(["alerts", "test", "oncall"], env)
    assert sent.returncode == 0, sent.stderr
    assert [r.body["event_action"] for r in rec.to("/pd")] == ["trigger", "resolve"]
    assert rec.to("/pd")[0].body["payload"]["summary"].startswith("[vigil] Test alert")
    assert "attempt 1: 202 ok" in sent.stdout and "oncall: test delivered" in sent.stdout

    rec.on("/slack", 500, 404)
    refused = vigil(["alerts", "test", "channel"], env)
    assert refused.returncode == 1
    assert "channel did not accept the test trigger" in refused.stderr
    assert "HTTP 404" in refused.stderr and "after 2 attempt(s)" in refused.stderr
    log = vigil(["alerts", "log", "--destination", "channel"], env)
    assert "channel trigger test:" in log.stdout and ": failed [500, 404] HTTP 404" in log.stdout
    unknown = vigil(["alerts", "test", "nobody"], env)
    assert unknown.returncode == 1 and "no alert destination 'nobody'" in unknown.stderr


def test_an_slo_burn_with_empty_short_windows_keeps_firing_and_escalation_reaches_oncall(
    conn, rec: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Pairs whose short window is empty cannot tell, so they neither resolve nor re-page;
    an SLO that starts on a ticket pair pages on-call when a page pair fires too."""
    (tmp_path / "slo.yaml").write_text(SLOS.split("  - {name: grounded")[0] + """burn_alerts:
  - {long: 1h, short: 5m, factor: 14.4, severity: page}
  - {long: 6h, short: 30m, factor: 6, severity: ticket}
""")
    (tmp_path / "alerts.yaml").write_text(f"""destinations:
  - {{name: oncall, type: pagerduty, routing_key: k, url: '{rec.url}/pd', min_severity: error}}
  - {{name: tickets, type: webhook, url: '{rec.url}/hook'}}
""")
    monkeypatch.setenv("VIGIL_SLO_FILE", str(tmp_path / "slo.yaml"))
    monkeypatch.setenv("VIGIL_ALERTS_FILE", str(tmp_path / "alerts.yaml"))
    now = datetime.now(UTC)
    old = [Trace(id=f"o{i:03d}", app="shop", start_time=now - timedelta(minutes=40 + i % 15),
                 input="q", output="a", latency_ms=9000.0 if i % 10 < 3 else 900.0)
           for i in range(60)]  # 40-55 minutes ago: in 1h and 6h, not in 5m nor 30m
    insert_traces(conn, old)
    assert slo_pass(conn, now) == 0  # no pair can tell: nothing fires ...
    assert rec.requests == []
    recent = [Trace(id=f"n{i:03d}", app="shop", start_time=now - timedelta(minutes=6 + i % 20),
                    input="q", output="a", latency_ms=9000.0 if i % 10 < 3 else 900.0)
              for i in range(60)]  # 6-25 minutes ago: the 30m window burns, the 5m is empty
    insert_traces(conn, recent)
    assert slo_pass(conn, now) == 1  # the ticket pair fires: a warning, below on-call's bar
    assert [r.path for r in rec.requests] == ["/hook"]
    assert rec.to("/hook")[0].body["severity"] == "warning"

    insert_traces(conn, [Trace(id=f"m{i:03d}", app="shop", input="q", output="a",
                               start_time=now - timedelta(seconds=20 + i), latency_ms=9000.0)
                         for i in range(10)])  # fmt: skip
    assert slo_pass(conn, now) == 1  # now the page pair fires too: on-call gets its page
    assert [r.path for r in rec.requests] == ["/hook", "/pd"]
    assert rec.to("/pd")[0].body["payload"]["severity"] == "critical"
    assert slo_pass(conn, now + timedelta(minutes=6)) == 1  # 5m empty, the ticket pair burns
    assert [r.path for r in rec.requests] == ["/hook", "/pd"]  # ... no resolve, no re-page
    assert slo_pass(conn, now + timedelta(minutes=50)) == 0  # 1h and 6h burn; 5m, 30m empty
    assert [r.path for r in rec.requests] == ["/hook", "/pd"]  # cannot tell: still firing
    assert slo_pass(conn, now + timedelta(hours=7)) == 0  # every window is empty: over
    assert sorted(r.path for r in rec.requests if r.body.get("event_action", r.body.get("event"))
                  == "resolve") == ["/hook", "/pd"]  # fmt: skip
