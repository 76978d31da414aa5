"""The judge's token and cost budget: per run, or shared by a backfill's day runs through a
:class:`Ledger` (``flows.judge_sharing.SharedBudget``, in the database)."""

from __future__ import annotations

import threading
from typing import Protocol

from vigil.settings import Settings


class BudgetExceeded(RuntimeError):
    """The run's judge budget is spent: no further request is sent."""


class Ledger(Protocol):
    """Spend shared with other processes (a backfill's day runs on several workers)."""

    def add(self, tokens: int, cost_usd: float) -> tuple[int, float]:
        """Add a request's spend; return the shared totals (tokens, USD) after it."""
        ...

    def spent(self) -> tuple[int, float]:
        """The shared totals so far."""
        ...


class Budget:
    """Tokens and dollars spent by one judge, refused once a limit is reached (thread-safe).
    With a ``ledger``, the limits apply to the ledger's totals, shared with other judges;
    the judge's own counters still say what it spent itself."""

    def __init__(self, settings: Settings, ledger: Ledger | None = None) -> None:
        self.max_tokens, self.max_cost_usd = (
            settings.judge_max_tokens_per_run,
            settings.judge_max_cost_usd_per_run,
        )
        self.prices = (
            settings.judge_input_usd_per_mtok or 0.0,
            settings.judge_output_usd_per_mtok or 0.0,
        )
        self.calls = self.input_tokens = self.output_tokens = 0
        self.cost_usd = 0.0
        self.ledger = ledger
        self._lock = threading.Lock()

    def check(self) -> None:
        limited = self.max_tokens is not None or self.max_cost_usd is not None
        if not limited:
            return
        with self._lock:
            tokens, cost = self.ledger.spent() if self.ledger else (self.tokens, self.cost_usd)
        spent = self.max_tokens is not None and tokens >= self.max_tokens
        spent |= self.max_cost_usd is not None and cost >= self.max_cost_usd
        if spent:
            limit = " / ".join(
                x
                for x in (
                    f"{self.max_tokens:,} tokens" if self.max_tokens is not None else "",
                    f"${self.max_cost_usd:.2f}" if self.max_cost_usd is not None else "",
                )
                if x
            )
            whose = "this backfill" if self.ledger else "this run"
            raise BudgetExceeded(f"judge budget of {limit} for {whose} is spent")

    def add(self, input_tokens: int, output_tokens: int) -> None:
        cost = (input_tokens * self.prices[0] + output_tokens * self.prices[1]) / 1e6
        with self._lock:
            self.calls += 1
            self.input_tokens += input_tokens
            self.output_tokens += output_tokens
            self.cost_usd += cost
            if self.ledger:
                self.ledger.add(input_tokens + output_tokens, cost)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens
