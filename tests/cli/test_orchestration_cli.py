"""`vigil sampling`, `vigil backfill --dry-run`, `vigil evaluate --trace` and `vigil runs`."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from tests.cli.helpers import seed, vigil

DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=4)


def _env(db_url: str, **more: str) -> dict[str, str]:
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url, **more}
    env.pop("PREFECT_API_URL", None)
    return env


def test_sampling_set_show_and_reset(db_url: str) -> None:
    env = _env(db_url)
    made = vigil(["sampling", "set", "--app", "shop", "--rate", "0.25", "--strata",
                  "model,route", "--min-per-stratum", "3", "--max-per-run", "500",
                  "--judge-max-cost-usd", "2"], env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == (
        "shop: rate 0.25; strata model, route (min 3 each); always: thumbs-down, errors, "
        "latency/cost above p99; cap 500 a run; judge budget $2 a run"
    )
    changed = vigil(
        ["sampling", "set", "--app", "shop", "--no-outliers", "--max-per-run", "0"], env
    )
    assert changed.stdout.startswith("shop: rate 0.25; strata model, route")  # the rest kept
    assert "p99" not in changed.stdout and "cap" not in changed.stdout
    shown = vigil(["sampling", "show"], env).stdout
    assert shown.startswith("shop: rate 0.25") and "other apps (default" in shown
    bad = vigil(["sampling", "set", "--app", "shop", "--strata", "route;drop"], env)
    assert bad.returncode == 1 and "not a segment key" in bad.stderr
    assert vigil(["sampling", "reset", "--app", "shop"], env).stdout.strip() == (
        "shop: back to the default policy"
    )


def test_dry_run_counts_and_prices_without_running(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(conn, DAY, 10)
    env = _env(db_url, VIGIL_JUDGE_PROVIDER="openai_compatible", VIGIL_JUDGE_MODEL="m",
               VIGIL_JUDGE_BASE_URL="http://127.0.0.1:9/v1", VIGIL_JUDGE_INPUT_USD_PER_MTOK="1",
               VIGIL_JUDGE_OUTPUT_USD_PER_MTOK="4")  # fmt: skip
    args = ["backfill", "--dry-run", "--start", f"{DAY:%Y-%m-%d}", "--end",
            f"{DAY + timedelta(days=2):%Y-%m-%d}", "--evaluator", "judge_groundedness",
            "--evaluator", "tokens", "--sample-rate", "0.5"]  # fmt: skip
    run = vigil(args, env)
    assert run.returncode == 0, run.stderr
    picked = int(run.stdout.split(" to evaluate")[0].rsplit("\n", 1)[1])
    assert 1 <= picked <= 9  # half of 10 by hash, the same every time
    assert vigil(args, env).stdout == run.stdout
    assert "10 complete traces in range" in run.stdout
    assert f"judge: {picked} calls" in run.stdout and "cost about $0.00" in run.stdout
    assert "nothing was run" in run.stdout
    assert conn.execute("SELECT count(*) AS n FROM eval_runs").fetchone()["n"] == 0
    assert conn.execute("SELECT count(*) AS n FROM scores").fetchone()["n"] == 0
    local = vigil([*args[:-4]], _env(db_url))  # no judge configured: local evaluators
    assert "judge cost: $0 (local evaluators only" in local.stdout


def test_evaluate_one_trace_then_list_the_runs(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(conn, DAY, 2)
    env = _env(db_url)
    run = vigil(["evaluate", "--trace", "e2e-1", "--evaluator", "groundedness",
                 "--evaluator", "latency_ms"], env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("groundedness") and " scored " in lines[0]
    assert lines[1].startswith("latency_ms") and "skipped  trace has no latency" in lines[1]
    assert "stored 2 score(s)" in run.stderr
    again = vigil(["evaluate", "--trace", "e2e-1", "--evaluator", "groundedness"], env)
    assert "stored 0 score(s); kept 1 final score(s)" in again.stderr
    assert conn.execute("SELECT count(*) AS n FROM scores").fetchone()["n"] == 2
    missing = vigil(["evaluate", "--trace", "nope"], env)
    assert missing.returncode == 1 and "no trace with id 'nope'" in missing.stderr

    listed = vigil(["runs"], env).stdout.splitlines()
    assert listed[0].split()[:3] == ["id", "kind", "window"]
    assert len(listed) == 3 and all(" adhoc " in line for line in listed[1:])
    first = listed[2].split()  # id kind window(5 words) status traces scored skipped ...
    assert first[7:13] == ["completed", "1/1", "1", "1", "0", "0.0000"]
    assert listed[2].endswith("/traces?trace=e2e-1")  # the trace the ad hoc run scored
