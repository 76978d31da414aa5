"""Read-only summaries for the UI's screens."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.db.types import Conn


@dataclass(frozen=True)
class Headline:
    traces: int
    apps: int
    open_regressions: int
    pending_reviews: int
    labeled_reviews: int


def headline(conn: Conn) -> Headline:
    """Totals across all apps: traces stored, open regressions, review queue state."""
    row = conn.execute(
        """
        SELECT (SELECT count(*) FROM traces) AS traces,
               (SELECT count(DISTINCT app) FROM traces) AS apps,
               (SELECT count(*) FROM regressions WHERE status = 'open') AS open_regressions,
               (SELECT count(*) FROM review_items WHERE status = 'pending') AS pending_reviews,
               (SELECT count(*) FROM review_items WHERE status = 'labeled') AS labeled_reviews
        """
    ).fetchone()
    assert row is not None
    return Headline(**{key: int(value) for key, value in row.items()})
