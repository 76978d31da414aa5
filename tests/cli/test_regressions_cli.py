"""`vigil regressions`: the list, one regression in full, acknowledging, and bad ids."""

from __future__ import annotations

import os

from tests.cli.helpers import vigil
from tests.detection.test_lifecycle import detect_day, seed_day


def test_list_show_and_ack(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    for day in range(7):
        seed_day(conn, day)
    seed_day(conn, 7, bad_technical=True)
    detect_day(conn, 7)
    rid = conn.execute(
        "SELECT id FROM regressions WHERE metric = 'score' AND evaluator = 'groundedness'"
    ).fetchone()["id"]
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url}

    listed = vigil(["regressions", "--status", "open"], env)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.split()[0] == str(rid))
    assert "score:groundedness" in line and "route=technical explains" in line

    shown = vigil(["regressions", "show", str(rid)], env)
    assert shown.returncode == 0, shown.stderr
    assert "Mann-Whitney U" in shown.stdout and "explained by:" in shown.stdout
    assert "baseline" in shown.stdout and "p50" in shown.stdout
    worst = conn.execute(
        "SELECT trace_id FROM review_items WHERE regression_id = %s"
        " ORDER BY score ASC NULLS LAST, id LIMIT 1",
        (rid,),
    ).fetchone()["trace_id"]
    assert f"http://127.0.0.1:8501/traces?trace={worst}" in shown.stdout  # the explorer's link

    acked = vigil(["regressions", "ack", str(rid), "--by", "dana"], env)
    assert acked.returncode == 0 and f"#{rid} is acknowledged" in acked.stdout
    row = conn.execute("SELECT status, acknowledged_by FROM regressions WHERE id = %s", (rid,))
    assert row.fetchone() == {"status": "acknowledged", "acknowledged_by": "dana"}

    missing = vigil(["regressions", "show", "99999"], env)
    assert missing.returncode == 1
    assert "no regression #99999" in missing.stderr and "vigil regressions" in missing.stderr
