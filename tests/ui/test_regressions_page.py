"""The Regressions page, driven by AppTest against the real test database."""

from __future__ import annotations

import psycopg
from streamlit.testing.v1 import AppTest

from tests.ui.pages import APP, open_page, seed
from tests.ui.signin import sign_in


def test_regressions_page_lists_a_seeded_regression(conn: psycopg.Connection) -> None:
    reg_id = seed(conn)
    at = open_page("app_pages/regressions.py")

    table = at.dataframe[0].value
    assert table["app"].tolist() == ["support-bot"]
    assert table["metric"].tolist() == ["score · groundedness"]
    assert table["baseline → window"].tolist() == ["0.86 → 0.5"]
    assert table["explained by"].tolist() == ["prompt_version=v7-terse (new) explains 92%"]
    assert table["pending reviews"].tolist() == [2]
    attribution = at.dataframe[1].value  # what explains it, first named first
    assert attribution["segment"].tolist() == ["prompt_version=v7-terse", "route=billing"]
    assert attribution["baseline"].tolist() == ["new", "0.86"]

    at.button(key="regression_ack").click().run()
    assert not at.exception
    row = conn.execute(
        "SELECT status, acknowledged_by FROM regressions WHERE id = %s", (reg_id,)
    ).fetchone()
    assert row == {"status": "acknowledged", "acknowledged_by": "ana"}  # who clicked
    assert at.dataframe[0].value["status"].tolist() == ["acknowledged"]
    assert "acknowledged by ana" in at.success[0].value
    assert any("Acknowledged by ana" in c.value for c in at.caption)

    at.button(key="regression_resolve").click().run()
    row = conn.execute(
        "SELECT status, resolved_by, resolved_at FROM regressions WHERE id = %s", (reg_id,)
    ).fetchone()
    assert row is not None and row["status"] == "resolved" and row["resolved_by"] == "ana"
    assert row["resolved_at"] is not None


def test_the_drill_down_links_its_example_traces(conn: psycopg.Connection) -> None:
    """The traces queued for the regression, worst first, each a link to the explorer."""
    seed(conn)
    at = open_page("app_pages/regressions.py")

    examples = at.dataframe[2].value  # the list, what explains it, the examples
    assert examples["trace"].tolist() == ["/traces?trace=t0", "/traces?trace=t1"]
    assert examples["score"].tolist() == [0.2, 0.4]
    assert examples["review"].tolist() == ["pending", "pending"]


def test_an_alert_link_opens_its_regression(conn: psycopg.Connection) -> None:
    """Alerts link to /regressions?regression=ID: that one is picked, even when resolved."""
    first = seed(conn)
    conn.execute(
        "INSERT INTO regressions (app, metric, evaluator, evaluator_version, segment,"
        " window_start, window_end, baseline_start, baseline_end, window_mean, baseline_mean,"
        " window_n, baseline_n, delta, p_value, q_value, effect, evidence, headline,"
        " first_seen, last_seen, status)"
        " SELECT app, 'cost_per_request', '', '', segment, window_start, window_end,"
        " baseline_start, baseline_end, 0.002, 0.001, 40, 300, 0.001, 1e-6, 1e-5, 1.0,"
        " '{\"relative\": true}', 'cost doubled', first_seen - interval '2 days',"
        " last_seen - interval '2 days', 'resolved'"
        " FROM regressions WHERE id = %s",
        (first,),
    )
    second = first + 1
    at = sign_in(AppTest.from_file(str(APP), default_timeout=30))
    at.run()
    at.switch_page("app_pages/regressions.py")
    at.query_params["regression"] = str(second)
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="regression_pick").options[0].startswith("#1 ")  # listed later ...
    assert at.selectbox(key="regression_pick").value == second  # ... yet picked
    assert "cost doubled" in [m.value for m in at.markdown]
