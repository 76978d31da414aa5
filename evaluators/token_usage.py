"""Token usage: tokens in plus tokens out of the request.

It needs nothing: counts the application reported are used even when no text was stored.
When it reported none, tokens are counted with tiktoken (cl100k_base, offline) from the
question and contexts (in) and the answer (out), as ingestion does, and flagged
``estimated``; a trace with neither counts nor an answer is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from evaluators.base import Evaluator, Need
from evaluators.registry import register
from vigil.ingest.tokens import count_tokens
from vigil.models import Score, Trace

NO_TOKENS = "trace reports no tokens and has no answer to count them from"


def _usage(trace: Trace) -> tuple[int, int, bool] | None:
    """Tokens in, tokens out, and whether they are estimates; None if there is nothing."""
    if trace.tokens_in is not None or trace.tokens_out is not None:
        flags = trace.attributes.get("vigil")
        counted = isinstance(flags, dict) and bool(flags.get("tokens_estimated"))  # at ingestion
        return trace.tokens_in or 0, trace.tokens_out or 0, counted
    if not (trace.output and trace.output.strip()):
        return None
    prompt = "\n".join([trace.input or "", *trace.contexts])
    return count_tokens(prompt), count_tokens(trace.output), True


@register
class TokenUsage(Evaluator):
    name = "tokens"
    version = "1"
    needs: ClassVar[frozenset[Need]] = frozenset()

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for t in traces:
            usage = _usage(t)
            if usage is None:
                out.append(Score.skipped(NO_TOKENS))
                continue
            tokens_in, tokens_out, estimated = usage
            how = " (estimated with tiktoken cl100k_base)" if estimated else ""
            out.append(
                Score.measured(
                    tokens_in + tokens_out,
                    "tokens",
                    f"{tokens_in} in + {tokens_out} out{how}",
                    tokens_in=tokens_in,
                    tokens_out=tokens_out,
                    estimated=estimated,
                )
            )
        return out
