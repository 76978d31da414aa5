"""`vigil up --detach`, a backfill through the served deployment, then `vigil down`.

Everything real: the Prefect server on the test PostgreSQL, the runner serving the
deployments, Streamlit. Slow (about a minute and a half), so it runs once.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.helpers import seed, vigil
from tests.conftest import free_port
from vigil import sdk

pytestmark = pytest.mark.slow


PREFECT_AUTH = "vigil:test-only-secret"


def get_json(url: str, auth: str | None = PREFECT_AUTH) -> dict:
    request = urllib.request.Request(url)
    if auth is not None:
        request.add_header("Authorization", f"Basic {base64.b64encode(auth.encode()).decode()}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_up_backfill_down(conn, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    assert seed(conn, day) == 12
    prefect_port, ui_port, otlp_port = free_port(), free_port(), free_port()
    metrics_port = free_port()
    env = {
        **os.environ,
        "VIGIL_HOME": str(tmp_path / "home"),
        "VIGIL_DATABASE_URL": db_url,
        "VIGIL_PREFECT_PORT": str(prefect_port),
        "VIGIL_UI_PORT": str(ui_port),
        "VIGIL_OTLP_PORT": str(otlp_port),
        "VIGIL_METRICS_PORT": str(metrics_port),
        "VIGIL_PREFECT_AUTH": PREFECT_AUTH,  # the server, the runner and the CLI use it
    }
    env.pop("PREFECT_API_URL", None)
    try:
        up = vigil(["up", "--detach"], env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"http://127.0.0.1:{ui_port}" in up.stdout
        assert "create the first user with `vigil users add NAME --role admin`" in up.stdout

        api = f"http://127.0.0.1:{prefect_port}/api"
        deployment = get_json(f"{api}/deployments/name/evaluate-window/evaluate-window")
        crons = [s["schedule"].get("cron") for s in deployment["schedules"]]
        assert crons == ["*/15 * * * *"]
        with pytest.raises(urllib.error.HTTPError) as refused:  # Prefect's own authentication
            get_json(f"{api}/deployments/name/backfill/backfill", auth=None)
        assert refused.value.code == 401
        assert get_json(f"{api}/deployments/name/backfill/backfill")["name"] == "backfill"
        assert get_json(f"{api}/deployments/name/detect/detect")["name"] == "detect"
        canary = get_json(f"{api}/deployments/name/canary/canary")
        assert [s["schedule"].get("cron") for s in canary["schedules"]] == ["*/30 * * * *"]
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/_stcore/health") as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as r:
            assert r.status == 200 and b"vigil_open_regressions" in r.read()

        # An instrumented app only needs the receiver's endpoint and a key.
        created = vigil(["keys", "create", "--app", "e2e"], env)
        assert created.returncode == 0, created.stderr
        sdk.configure(endpoint=f"http://127.0.0.1:{otlp_port}", api_key=created.stdout.strip())
        with sdk.rag_call("Sent over OTLP?") as call:
            call.answered("Yes.", model="gpt-4o-mini")
        assert sdk.flush()
        sdk.shutdown()
        otlp_row = conn.execute("SELECT app, output FROM traces WHERE input = 'Sent over OTLP?'")
        assert otlp_row.fetchone() == {"app": "e2e", "output": "Yes."}

        run = vigil(
            [
                "backfill",
                "--start",
                f"{day:%Y-%m-%d}",
                "--end",
                f"{day + timedelta(days=1):%Y-%m-%d}",
            ],
            env,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "completed: 12 traces" in run.stdout
        scored = conn.execute(
            "SELECT evaluator, count(*) AS n FROM scores WHERE status = 'scored'"
            " GROUP BY evaluator ORDER BY evaluator"
        ).fetchall()
        assert [(r["evaluator"], r["n"]) for r in scored] == [
            (name, 12)
            for name in ("answer_relevance", "context_relevance", "groundedness", "pii_leak",
                         "prompt_injection", "tokens")
        ]  # fmt: skip
        skipped = conn.execute(
            "SELECT DISTINCT evaluator FROM scores WHERE status = 'skipped' ORDER BY evaluator"
        ).fetchall()
        # no vector store for this app, no end time and no model on these traces
        assert [r["evaluator"] for r in skipped] == [
            "cost_usd", "latency_ms", "retrieval_agreement", "retrieval_confidence",
            "stale_context",
        ]  # fmt: skip
        flow_run_id = conn.execute("SELECT flow_run_id FROM eval_runs").fetchone()["flow_run_id"]
        assert flow_run_id  # the child run is a real Prefect flow run
    finally:
        down = vigil(["down"], env)
    assert down.returncode == 0, down.stdout + down.stderr
    stopped = {"stopped prefect", "stopped worker", "stopped otlp", "stopped ui", "stopped metrics"}
    assert stopped <= set(down.stdout.splitlines())
    assert not list((tmp_path / "home" / "run").glob("*.pid"))
