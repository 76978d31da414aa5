"""Judge budgets shared by the runs of one backfill, across processes and workers."""

from __future__ import annotations

from vigil.db.types import Conn


def spend(conn: Conn, scope: str, app: str, tokens: int, cost_usd: float) -> tuple[int, float]:
    """Add one judge request's tokens and cost; returns the budget's totals after it.
    One statement, so concurrent spenders on any worker add up exactly."""
    row = conn.execute(
        "INSERT INTO judge_budgets AS b (scope, app, tokens, cost_usd) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (scope, app) DO UPDATE SET tokens = b.tokens + EXCLUDED.tokens,"
        " cost_usd = b.cost_usd + EXCLUDED.cost_usd, updated_at = now()"
        " RETURNING tokens, cost_usd",
        (scope, app, tokens, cost_usd),
    ).fetchone()
    assert row is not None
    return int(row["tokens"]), float(row["cost_usd"])


def spent(conn: Conn, scope: str, app: str) -> tuple[int, float]:
    """Tokens and cost spent so far under ``scope`` for ``app`` (zero when nothing yet)."""
    row = conn.execute(
        "SELECT tokens, cost_usd FROM judge_budgets WHERE scope = %s AND app = %s", (scope, app)
    ).fetchone()
    return (int(row["tokens"]), float(row["cost_usd"])) if row else (0, 0.0)
