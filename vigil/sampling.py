"""Sampling policies: which of an app's traces a run evaluates, at a cost the team chooses.

A trace is picked when any of these holds (the first that holds is its ``reason``):

1. ``thumbs_down``: the user gave the answer a thumbs-down;
2. ``error``: the application reported an error;
3. ``latency_outlier`` / ``cost_outlier``: latency or cost above the window's
   ``outlier_quantile`` (e.g. 0.99);
4. ``new_prompt_version``: among the first ``first_per_prompt_version`` traces ever seen
   of its prompt version;
5. ``stratum_minimum``: among the ``min_per_stratum`` lowest hashes of its stratum in the
   window, so that a rare model, prompt version or route is never starved;
6. ``sampled``: its id hashes below ``rate``. The hash is of the trace id alone, so the
   same trace is in or out whatever window or run looks at it: a re-run picks the same.

``max_traces_per_run`` caps a run, taking the rules above in that order, then the lowest
hashes; what is left waits for the next run. The judge budget stops a run from taking new
batches once its tokens or dollars are spent.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.settings import Settings

Reason = Literal[
    "thumbs_down",
    "error",
    "latency_outlier",
    "cost_outlier",
    "new_prompt_version",
    "stratum_minimum",
    "sampled",
]
REASONS: tuple[Reason, ...] = get_args(Reason)  # in order of precedence
# A stratum key names a trace column or a segment attribute; the store writes it into SQL, so
# only these characters pass (no quote, no space).
STRATUM_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class SamplingPolicy(BaseModel):
    """One app's sampling policy (a row of ``sampling_policies``)."""

    model_config = ConfigDict(frozen=True)

    rate: float = Field(1.0, ge=0.0, le=1.0)
    strata: tuple[str, ...] = ()
    min_per_stratum: int = Field(0, ge=0)
    include_thumbs_down: bool = True
    include_errors: bool = True
    outlier_quantile: float | None = Field(0.99, ge=0.5, lt=1.0)
    first_per_prompt_version: int = Field(0, ge=0)
    max_traces_per_run: int | None = Field(None, gt=0)
    judge_max_tokens: int | None = Field(None, gt=0)
    judge_max_cost_usd: float | None = Field(None, gt=0)

    @field_validator("strata")
    @classmethod
    def _known_keys(cls, strata: tuple[str, ...]) -> tuple[str, ...]:
        for key in strata:
            if not STRATUM_KEY.match(key):
                raise ValueError(
                    f"stratum {key!r} is not a segment key: use model, prompt_version or a "
                    "segment attribute such as route (letters, digits, _ . -)"
                )
        return tuple(dict.fromkeys(strata))

    def describe(self) -> str:
        """One line for ``vigil sampling show`` and run logs."""
        quantile, first = self.outlier_quantile, self.first_per_prompt_version
        rules = [
            name
            for name, on in (
                ("thumbs-down", self.include_thumbs_down),
                ("errors", self.include_errors),
                (f"latency/cost above p{100 * (quantile or 0):g}", quantile),
                (f"first {first} of a prompt version", first),
            )
            if on
        ]
        parts = [f"rate {self.rate:g}"]
        if self.strata:
            parts.append(f"strata {', '.join(self.strata)} (min {self.min_per_stratum} each)")
        parts.append("always: " + (", ".join(rules) or "nothing"))
        if self.max_traces_per_run:
            parts.append(f"cap {self.max_traces_per_run} a run")
        budget = [
            f"{self.judge_max_tokens:,} tokens" if self.judge_max_tokens else "",
            f"${self.judge_max_cost_usd:g}" if self.judge_max_cost_usd else "",
        ]
        if any(budget):
            parts.append("judge budget " + " / ".join(b for b in budget if b) + " a run")
        return "; ".join(parts)


def default_policy(settings: Settings) -> SamplingPolicy:
    """The policy of an app that has none stored: the rate and judge budget from settings."""
    return SamplingPolicy(
        rate=settings.sample_rate,
        judge_max_tokens=settings.judge_max_tokens_per_run,
        judge_max_cost_usd=settings.judge_max_cost_usd_per_run,
    )
