"""`vigil retention set/show/run`: the policy, its refusals (each naming the fix), and a dry
run. (Drops run on a database of their own: tests/store/test_retention.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.retention import retention_cmd
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.store import partitions


def run(*args: str) -> Result:
    return CliRunner().invoke(retention_cmd, list(args))


def test_set_stores_the_policy_and_show_tells_it(conn: Conn, db_url: str) -> None:
    done = run("set", "--traces", "30d", "--scores", "400d")
    assert done.exit_code == 0, done.output
    assert "traces kept 30 days; dropped 7 days at a time, so up to 37" in done.output
    assert "scores kept 400 days" in done.output
    rows = conn.execute("SELECT data, keep_days FROM retention_policies ORDER BY data").fetchall()
    assert [(r["data"], r["keep_days"]) for r in rows] == [("scores", 400), ("traces", 30)]

    shown = run("show")
    assert shown.exit_code == 0, shown.output
    assert "traces kept 30 days" in shown.output and "traces_p" in shown.output
    assert "traces held since: the first one stored" in shown.output

    kept = run("set", "--scores", "forever")  # --traces keeps its value
    assert kept.exit_code == 0, kept.output
    assert "scores kept forever" in kept.output and "traces kept 30 days" in kept.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--traces", "30d", "--scores", "20d"], "Give --scores 30d or more"),
        (["--scores", "90d"], "Set --traces too (at most --scores 90d), or give --scores forever"),
        (["--traces", "30d", "--scores", "60d"], "12 weeks of scores"),
        (["--traces", "5d"], "keep at least 14d"),
        (["--traces", "20d", "--partition-days", "14"], "keep at least 28d"),
        (["--traces", "12h"], "whole days"),
        (["--traces", "a month"], "give whole days, e.g. 30d, or forever"),
    ],
)
def test_a_policy_that_drops_too_much_is_refused(
    conn: Conn, db_url: str, args: list[str], message: str
) -> None:
    refused = run("set", *args)
    assert isinstance(refused.exception, VigilError), refused.output
    assert message in str(refused.exception)
    assert conn.execute("SELECT count(*) AS n FROM retention_policies").fetchone()["n"] == 0
    assert conn.execute("SELECT days FROM partitioning").fetchone()["days"] == 7


def test_traces_are_kept_as_long_as_the_detector_and_the_slos_read_them(
    conn: Conn, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_BASELINE_DAYS", "28")
    refused = run("set", "--traces", "21d")
    assert isinstance(refused.exception, VigilError)
    assert "VIGIL_BASELINE_DAYS" in str(refused.exception) and "at least 30d" in str(
        refused.exception
    )
    monkeypatch.delenv("VIGIL_BASELINE_DAYS")
    slos = tmp_path / "slo.yaml"
    slos.write_text(
        "slos:\n  - name: monthly\n    app: shop\n"
        "    sli: {measure: latency_ms, bound: 4000}\n    target: 0.99\n    window: 60d\n"
    )
    monkeypatch.setenv("VIGIL_SLO_FILE", str(slos))
    refused = run("set", "--traces", "30d")
    assert isinstance(refused.exception, VigilError)
    assert "longest SLO period" in str(refused.exception) and "60d" in str(refused.exception)
    assert run("set", "--traces", "60d").exit_code == 0


def test_run_dry_run_says_what_would_go_and_drops_nothing(conn: Conn, db_url: str) -> None:
    partitions.ensure(conn, [datetime.now(UTC) - timedelta(days=30)])  # an old week exists
    nothing = run("run", "--dry-run")
    assert nothing.exit_code == 0, nothing.output
    assert "nothing to drop" in nothing.output  # no policy: nothing is ever dropped
    conn.execute(
        "INSERT INTO retention_policies (data, keep_days, updated_by)"
        " VALUES ('traces', 1, 'test'), ('scores', 1, 'test')"
    )
    before = conn.execute("SELECT count(*) AS n FROM time_partitions").fetchone()["n"]
    dry = run("run", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would drop traces of" in dry.output and "would drop scores of" in dry.output
    assert (
        conn.execute(
            "SELECT count(*) AS n FROM time_partitions WHERE traces_dropped_at IS NOT NULL"
        ).fetchone()["n"]
        == 0
    )
    assert conn.execute("SELECT count(*) AS n FROM time_partitions").fetchone()["n"] >= before
