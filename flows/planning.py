"""Which traces a run takes: each app's sampling policy applied to the window."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from vigil.db.types import Conn
from vigil.sampling import SamplingPolicy, default_policy
from vigil.settings import Settings
from vigil.store import claims, sampling
from vigil.store.sampling import Pick


@dataclass(frozen=True)
class AppPlan:
    app: str
    policy: SamplingPolicy
    trace_ids: list[str]
    reasons: dict[str, int]

    def describe(self) -> str:
        why = ", ".join(f"{n} {r}" for r, n in self.reasons.items()) or "nothing new"
        return f"{self.app}: {len(self.trace_ids)} traces to evaluate ({why})"


def policy_for(
    conn: Conn, settings: Settings, app: str, sample_rate: float | None = None
) -> SamplingPolicy:
    """The app's stored policy, or the defaults; ``sample_rate`` overrides its rate."""
    policy = sampling.get_policy(conn, app) or default_policy(settings)
    return policy if sample_rate is None else policy.model_copy(update={"rate": sample_rate})


def plan_app(
    conn: Conn,
    settings: Settings,
    app: str,
    window: tuple[datetime, datetime],
    evaluators: list[tuple[str, str]],
    run_id: int | None,
    sample_rate: float | None = None,
) -> AppPlan:
    """Pick the app's traces for this run and record the picks as claimable."""
    policy = policy_for(conn, settings, app, sample_rate)
    picks = sampling.select_sample(
        conn, app, *window, policy, evaluators, max_attempts=settings.eval_max_attempts
    )
    claims.record(conn, picks, run_id)
    return AppPlan(app, policy, [p.trace_id for p in picks], _reasons(picks))


@dataclass(frozen=True)
class Estimate:
    """What a backfill would take, before anything runs (``vigil backfill --dry-run``)."""

    traces: int  # complete traces in the range
    incomplete: int  # not evaluated until complete (root span ended, or quiet for the grace)
    picked: int  # what the sampling policies pick and is not scored yet
    reasons: dict[str, int]
    judge_calls: int
    judge_tokens: int
    cost_usd: float | None  # None: a judge is used but its prices are not set


# A rough judge call: the trace's text (about 4 characters a token) plus a prompt of about
# 300 tokens, and about 150 tokens of reasons and score back.
CHARS_PER_TOKEN = 4
PROMPT_TOKENS = 300
REPLY_TOKENS = 150


def estimate(
    conn: Conn,
    settings: Settings,
    days: list[tuple[datetime, datetime]],
    app: str | None,
    evaluators: list[tuple[str, str]],
    judge_evaluators: int,
    sample_rate: float | None = None,
) -> Estimate:
    """Count what a backfill over ``days`` would evaluate (each day is one run, so each
    day gets the policies' cap), and price its judge calls."""
    traces = incomplete = 0
    picks: list[Pick] = []
    for day in days:
        for name in sampling.window_apps(conn, *day, app, complete_only=False):
            counts = sampling.window_counts(conn, name, *day)
            traces, incomplete = traces + counts["complete"], incomplete + counts["incomplete"]
            policy = policy_for(conn, settings, name, sample_rate)
            picks += sampling.select_sample(
                conn, name, *day, policy, evaluators, max_attempts=settings.eval_max_attempts
            )
    calls = len(picks) * judge_evaluators
    text_tokens = sampling.text_chars(conn, [p.trace_id for p in picks]) // CHARS_PER_TOKEN
    tokens_in = judge_evaluators * text_tokens + calls * PROMPT_TOKENS
    tokens_out = calls * REPLY_TOKENS
    price_in, price_out = settings.judge_input_usd_per_mtok, settings.judge_output_usd_per_mtok
    cost: float | None = 0.0
    if calls and (price_in is None or price_out is None):
        cost = None
    elif calls and price_in is not None and price_out is not None:
        cost = (tokens_in * price_in + tokens_out * price_out) / 1e6
    return Estimate(
        traces, incomplete, len(picks), _reasons(picks), calls, tokens_in + tokens_out, cost
    )


def _reasons(picks: list[Pick]) -> dict[str, int]:
    return dict(Counter(p.reason for p in picks))
