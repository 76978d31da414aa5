"""`vigil slo check` and `vigil slo status` against a real database."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli.helpers import vigil
from vigil.models import Score, Trace
from vigil.store.scores import ScoreRow, upsert_scores
from vigil.store.traces import insert_traces

EXAMPLE = Path(__file__).resolve().parents[2] / "infra" / "slo.example.yaml"
FILE = """slos:
  - name: grounded
    app: shop
    sli: {evaluator: groundedness, threshold: 0.8}
    target: 0.99
    window: 1d
  - name: fast
    app: shop
    sli: {measure: latency_ms, bound: 4000}
    target: 0.95
    window: 1d
"""


def seed(conn) -> None:  # type: ignore[no-untyped-def]
    """100 traces a minute apart up to now; every fifth has groundedness 0.3."""
    now = datetime.now(UTC)
    traces, rows = [], []
    for i in range(100):
        at = now - timedelta(minutes=100 - i, seconds=-30)
        traces.append(Trace(id=f"s{i:03d}", app="shop", start_time=at, input="q?", output="a.",
                            latency_ms=900.0))  # fmt: skip
        value = 0.3 if i % 5 == 0 else 0.9
        rows.append(ScoreRow(f"s{i:03d}", "groundedness", "2", Score.scored(value)))
    with conn.transaction():
        insert_traces(conn, traces)
        upsert_scores(conn, rows, None)


def test_check_names_an_unknown_app_and_passes_without_the_database(conn, db_url) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url}
    done = vigil(["slo", "check", str(EXAMPLE)], env)
    assert done.returncode == 1
    assert "SLO 'grounded-answers': app: no traces of app 'support-bot'" in done.stderr
    offline = vigil(["slo", "check", "--no-apps", str(EXAMPLE)], env)
    assert offline.returncode == 0, offline.stderr
    assert "4 SLO(s) valid" in offline.stdout


def test_status_shows_the_sli_the_budget_and_a_firing_burn(conn, db_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seed(conn)
    path = tmp_path / "slo.yaml"
    path.write_text(FILE)
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_SLO_FILE": str(path)}
    assert vigil(["slo", "check", str(path)], env).returncode == 0
    done = vigil(["slo", "status"], env)
    assert done.returncode == 0, done.stderr
    grounded, fast = done.stdout.splitlines()
    assert grounded.startswith("grounded: SLI 0.8000 (80/100) against 0.99 over 1d")
    assert "budget left -1900%" in grounded  # 20% bad against a 1% budget: 20x
    assert "1h/5m 20.0x/20.0x FIRING (page, >= 14.4x)" in grounded
    assert fast.startswith("fast: SLI 1.0000 (100/100)") and "FIRING" not in fast
