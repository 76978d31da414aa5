"""What the page tests share: the app, a seeded regression with its review queue, opening
a page in AppTest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from tests.ui.signin import sign_in
from ui.access import Role, Viewer
from vigil.db.types import Conn
from vigil.models import Retrieval, Score, Trace
from vigil.store import regressions, review, scores, traces

ADMIN = Viewer("ana", "admin", None)
APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
WINDOW_END = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
WINDOW = (WINDOW_END - timedelta(hours=24), WINDOW_END)
BASELINE = (WINDOW[0] - timedelta(days=7), WINDOW[0])
ATTRIBUTION = [
    {"segment": {"prompt_version": "v7-terse"}, "explains": 0.92, "traffic": 0.75,
     "window": 0.41, "baseline": None, "new": {"prompt_version": True},
     "text": "prompt_version=v7-terse (new) explains 92%"},
    {"segment": {"route": "billing"}, "explains": 0.4, "traffic": 1.0, "window": 0.52,
     "baseline": 0.86, "new": {"route": False}, "text": "route=billing explains 40%"},
]  # fmt: skip


def open_page(page: str, viewer: Viewer | None = ADMIN) -> AppTest:
    """The app with ``page`` open, signed in as ``viewer`` (an admin unless given; None:
    nobody)."""
    at = AppTest.from_file(str(APP), default_timeout=30)
    if viewer is not None:
        sign_in(at, viewer.name, viewer.role, None if viewer.apps is None else set(viewer.apps))
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def seed(conn: Conn) -> int:
    """Four scored traces in yesterday's window, a regression over them, its review queue."""
    with conn.transaction():
        traces.insert_traces(
            conn,
            [
                Trace(
                    id=f"t{i}",
                    app="support-bot",
                    start_time=WINDOW[0] + timedelta(hours=i + 1),
                    input=f"How do I get refund number {i}?",
                    output=f"Refund answer {i}.",
                    model="gpt-x-mini",
                    prompt_version="v7-terse",
                    segment={"route": "billing"},
                    retrievals=[Retrieval(document_id=f"doc-{i}", content=f"Refund policy {i}")],
                )
                for i in range(4)
            ],
        )
        scores.upsert_scores(
            conn,
            [
                scores.ScoreRow(
                    f"t{i}",
                    "groundedness",
                    "1",
                    Score.scored(0.2 + 0.2 * i, f"why {i}"),
                )
                for i in range(4)
            ],
            run_id=None,
        )
        reg_id = regressions.record(
            conn,
            regressions.Regression(
                app="support-bot",
                metric="score",
                evaluator="groundedness",
                evaluator_version="1",
                segment={},
                window_start=WINDOW[0],
                window_end=WINDOW[1],
                baseline_start=BASELINE[0],
                baseline_end=BASELINE[1],
                window_mean=0.5,
                baseline_mean=0.86,
                window_n=4,
                baseline_n=60,
                delta=-0.36,
                p_value=1e-6,
                q_value=1e-5,
                effect=0.36,
                headline="score of groundedness worse by 0.360 (0.86 -> 0.5)",
                attribution=ATTRIBUTION,
                evidence={"test": "Mann-Whitney U, one-sided", "relative": False},
            ),
            run_id=None,
        )
        review.enqueue_traces(
            conn,
            regression_id=reg_id,
            trace_ids=["t0", "t1"],
            reason="low groundedness",
            evaluator="groundedness",
            evaluator_version="1",
        )
    return reg_id


def item_row(conn: Conn, trace_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM review_items WHERE trace_id = %s", (trace_id,)).fetchone()
    assert row is not None
    return row


def open_review(name: str = "ana", role: Role = "admin", apps: set[str] | None = None) -> AppTest:
    """The Review queue page, signed in as ``name`` (an admin unless given)."""
    at = AppTest.from_file(str(APP), default_timeout=30)
    sign_in(at, name, role, apps)
    at.run()
    at.switch_page("app_pages/review.py").run()
    assert not at.exception, at.exception
    return at
