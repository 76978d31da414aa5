"""End to end: a world with an injected incident is ingested and backfilled through the
real flows (a temporary Prefect server, the embedded PostgreSQL); a regression opens and
PagerDuty (the recorder) gets one trigger naming the segment; the metric recovers and it
gets one resolve."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.helpers import vigil
from tests.fakes.recorder import Recorder

pytestmark = pytest.mark.slow
START = datetime(2026, 9, 1, tzinfo=UTC)
ROUTES = ("billing", "technical", "account", "shipping")
INCIDENT_DAY = 8


def write_days(path: Path, days: range) -> Path:
    """150 traces a day on four routes; on INCIDENT_DAY a third of route=technical's
    requests fail (the app's other routes, and every other day, fail 1 in 100)."""
    lines = []
    for day in days:
        rng = random.Random(day)
        for i in range(150):
            route = ROUTES[i % 4]
            failing = 0.33 if day == INCIDENT_DAY and route == "technical" else 0.01
            at = START + timedelta(days=day, minutes=9 * i + rng.random())
            lines.append(json.dumps({
                "id": f"e2e-{day:02d}-{i:03d}", "app": "support-bot",
                "start_time": at.isoformat(), "latency_ms": rng.gauss(1200, 150),
                "input": "Where is my order?", "output": "It ships tomorrow.",
                "model": "gpt-4o-mini", "segment": {"route": route},
                "tokens_in": 700 + rng.randrange(100), "tokens_out": 60 + rng.randrange(20),
                "status": "error" if rng.random() < failing else "ok",
            }))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def ingest_and_backfill(env: dict[str, str], path: Path, first: int, end: int) -> None:
    ingested = vigil(["ingest", str(path)], env)
    assert ingested.returncode == 0, ingested.stderr
    run = vigil(["backfill", "--local", "--evaluator", "tokens",
                 "--start", f"{START + timedelta(days=first):%Y-%m-%d}",
                 "--end", f"{START + timedelta(days=end):%Y-%m-%d}"], env, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_an_incident_pages_once_with_its_segment_and_resolves_once_after_recovery(
    conn, db_url: str, alerts_file: Path, rec: Recorder, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # The world is in the past: page on regressions of any age, as a live pass would.
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_ALERT_MAX_AGE_HOURS": "1e6"}
    ingest_and_backfill(env, write_days(tmp_path / "a.jsonl", range(INCIDENT_DAY + 1)), 0,
                        INCIDENT_DAY + 1)  # fmt: skip
    regs = conn.execute("SELECT * FROM regressions WHERE status = 'open'").fetchall()
    assert [r["metric"] for r in regs] == ["error_rate"]
    triggers = [r.body for r in rec.to("/pd")]
    assert len(triggers) == 1
    (page,) = triggers
    assert page["event_action"] == "trigger"
    assert page["dedup_key"] == f"vigil-regression-{regs[0]['id']}"
    details = page["payload"]["custom_details"]
    named = details["segment"] + " " + " ".join(details["attribution"])
    assert "route=technical" in named, details
    assert details["after"] > details["before"]
    assert page["payload"]["summary"].startswith("[support-bot] ")

    ingest_and_backfill(env, write_days(tmp_path / "b.jsonl", range(INCIDENT_DAY + 1, 12)),
                        INCIDENT_DAY + 1, 12)  # fmt: skip
    assert conn.execute("SELECT status FROM regressions").fetchall() == [{"status": "resolved"}]
    actions = [(r.body["event_action"], r.body["dedup_key"]) for r in rec.to("/pd")]
    assert actions == [("trigger", page["dedup_key"]), ("resolve", page["dedup_key"])]
    log = conn.execute("SELECT action, status FROM alert_notices WHERE destination = 'oncall'"
                       " ORDER BY id").fetchall()  # fmt: skip
    assert log == [{"action": "trigger", "status": "delivered"},
                   {"action": "resolve", "status": "delivered"}]  # fmt: skip
