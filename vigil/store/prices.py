"""The versioned price table: USD per million tokens, by model and effective date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from vigil.db.types import Conn


@dataclass(frozen=True)
class Price:
    model: str
    effective_from: date
    input_usd_per_mtok: float
    output_usd_per_mtok: float

    def cost(self, tokens_in: int | None, tokens_out: int | None) -> float:
        return (
            (tokens_in or 0) * self.input_usd_per_mtok
            + (tokens_out or 0) * self.output_usd_per_mtok
        ) / 1_000_000


def price_at(conn: Conn, model: str, at: datetime) -> Price | None:
    """The price of ``model`` in effect at ``at``.

    Model names match exactly or by the longest priced prefix, so ``gpt-4o-mini-2024-07-18``
    is priced as ``gpt-4o-mini``; a provider prefix such as ``openai/`` is ignored.
    """
    name = model.rsplit("/", 1)[-1].lower()
    row = conn.execute(
        """
        SELECT model, effective_from, input_usd_per_mtok, output_usd_per_mtok
        FROM model_prices
        WHERE (%(name)s = model OR %(name)s LIKE model || '-%%')
          AND effective_from <= %(at)s::date
        ORDER BY length(model) DESC, effective_from DESC LIMIT 1
        """,
        {"name": name, "at": at},
    ).fetchone()
    return Price(**row) if row else None


def list_prices(conn: Conn) -> list[Price]:
    rows = conn.execute(
        "SELECT model, effective_from, input_usd_per_mtok, output_usd_per_mtok"
        " FROM model_prices ORDER BY model, effective_from"
    ).fetchall()
    return [Price(**r) for r in rows]


def set_price(conn: Conn, price: Price, source: str) -> None:
    """Add a price version (or correct the one with the same model and date)."""
    conn.execute(
        """
        INSERT INTO model_prices (model, effective_from, input_usd_per_mtok,
                                  output_usd_per_mtok, source)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (model, effective_from) DO UPDATE SET
            input_usd_per_mtok = EXCLUDED.input_usd_per_mtok,
            output_usd_per_mtok = EXCLUDED.output_usd_per_mtok, source = EXCLUDED.source
        """,
        (
            price.model.lower(),
            price.effective_from,
            price.input_usd_per_mtok,
            price.output_usd_per_mtok,
            source,
        ),
    )
