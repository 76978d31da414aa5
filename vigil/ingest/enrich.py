"""What ingestion adds to a trace before it is stored: token counts and cost."""

from __future__ import annotations

from vigil.db.types import Conn
from vigil.ingest.tokens import count_tokens
from vigil.models import Trace
from vigil.store.prices import price_at


def enrich(conn: Conn, trace: Trace) -> Trace:
    """Count tokens when none were reported, and cost the trace from the price table.

    Reported values always win; estimates are flagged in ``attributes``.
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
        price = price_at(conn, trace.model, trace.start_time)
        if price is not None:
            updates["cost_usd"] = price.cost(tokens_in, tokens_out)  # type: ignore[arg-type]
            flags["priced_as"] = f"{price.model}@{price.effective_from.isoformat()}"
    if not updates:
        return trace
    updates["attributes"] = {
        **trace.attributes,
        "vigil": {**trace.attributes.get("vigil", {}), **flags},
    }
    return trace.model_copy(update=updates)
