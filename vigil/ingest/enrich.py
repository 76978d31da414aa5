"""What ingestion does to a trace before it is stored: safe text, token counts and cost."""

from __future__ import annotations

from datetime import date, datetime

from vigil.db.types import Conn
from vigil.ingest.text import TextFilter
from vigil.ingest.tokens import count_tokens
from vigil.models import Trace
from vigil.store.prices import Price, price_at


class PriceBook:
    """Price lookups for one batch, cached by model and day."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self._cache: dict[tuple[str, date], Price | None] = {}

    def at(self, model: str, when: datetime) -> Price | None:
        key = (model, when.date())
        if key not in self._cache:
            self._cache[key] = price_at(self.conn, model, when)
        return self._cache[key]


def sanitize(trace: Trace, safe: TextFilter) -> Trace:
    """Apply the text filter (NUL removal, truncation, PII masking) to every stored text."""
    return trace.model_copy(
        update={
            "input": safe(trace.input) if trace.input else trace.input,
            "output": safe(trace.output) if trace.output else trace.output,
            "retrievals": [
                c.model_copy(update={"content": safe(c.content)}) for c in trace.retrievals
            ],
        }
    )


def enrich(prices: PriceBook, trace: Trace) -> Trace:
    """Count tokens when none were reported, and cost the trace from the price table.

    Reported values always win; estimates are flagged under ``attributes.vigil``.
    """
    updates: dict[str, object] = {}
    flags: dict[str, object] = {}
    if trace.tokens_in is None and trace.tokens_out is None and trace.output:
        prompt = "\n".join([trace.input or "", *trace.contexts])
        updates["tokens_in"] = count_tokens(prompt)
        updates["tokens_out"] = count_tokens(trace.output)
        flags["tokens_estimated"] = "tiktoken cl100k_base"
    tokens_in = updates.get("tokens_in", trace.tokens_in)
    tokens_out = updates.get("tokens_out", trace.tokens_out)
    if trace.cost_usd is None and trace.model and (tokens_in or tokens_out):
        price = prices.at(trace.model, trace.start_time)
        if price is not None:
            updates["cost_usd"] = price.cost(tokens_in, tokens_out)  # type: ignore[arg-type]
            flags["priced_as"] = f"{price.model}@{price.effective_from.isoformat()}"
    if not updates:
        return trace
    vigil_attrs = {**trace.attributes.get("vigil", {}), **flags}
    updates["attributes"] = {**trace.attributes, "vigil": vigil_attrs}
    return trace.model_copy(update=updates)
