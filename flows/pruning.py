"""The ``retention`` flow's work, in plain functions (the flow is :mod:`flows.retention`;
``vigil retention run`` calls them in-process).

A run makes the partitions ahead, then drops what the policy says, a range at a time,
oldest first: first the traces of each range past the traces' retention (their scores
rolled up per day and segment first), then the scores of each range past the scores'
retention. A run with no policy set only makes the partitions ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.retention import Needs, validate
from vigil.store import partitions, rollups
from vigil.store import retention as store
from vigil.store.partitions import TimeRange

SUNDAY = 6


@dataclass
class Outcome:
    """What a run dropped (or, in a dry run, would drop): one entry a range and data."""

    traces: list[TimeRange] = field(default_factory=list)
    scores: list[TimeRange] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # what each drop removed
    refused: str = ""  # a dry run's: why a run would refuse the policy

    def lines(self, dry_run: bool) -> list[str]:
        verb = "would drop" if dry_run else "dropped"
        out = [
            f"{verb} {data} of {r.lo:%Y-%m-%d} .. {r.hi:%Y-%m-%d}"
            for data, ranges in (("traces", self.traces), ("scores", self.scores))
            for r in ranges
        ]
        if self.refused:
            out.append(f"a run would drop nothing: {self.refused}")
        return out or ["nothing to drop"]


def run_retention(
    conn: Conn,
    now: datetime,
    *,
    dry_run: bool = False,
    run: str | None = None,
    log: Any = None,
    needs: Needs | None = None,
    **drop: Any,
) -> Outcome:
    """Make the partitions ahead and apply the retention policy at ``now`` (``conn`` in
    autocommit: each range is dropped in its own transaction). With ``needs`` (what the
    settings read now), a policy that would drop what they read is refused before anything
    drops (a dry run says so). ``drop``: lock timeout and tries of
    :func:`vigil.store.partitions.drop`."""
    partitions.ensure_ahead(conn, now)
    policy = store.get_policy(conn)
    planned = store.plan(conn, policy, now)
    outcome = Outcome(planned.traces, planned.scores)
    if needs is not None and (planned.traces or planned.scores):
        try:
            validate(policy, needs)
        except VigilError as err:
            if not dry_run:
                raise VigilError(
                    f"The retention run dropped nothing. {err} "
                    "Set a policy that keeps it (`vigil retention set`)."
                ) from err
            outcome.refused = str(err)
    if dry_run:
        return outcome
    if planned.traces:  # the daily rollups take what completed since their last refresh
        rollups.refresh(conn)
    for r in planned.traces:
        outcome.rows.append({"traces": r.lo, **store.drop_traces(conn, r, run, **drop)})
        if log is not None:
            log.info("dropped the traces of %s .. %s: %s", r.lo, r.hi, outcome.rows[-1])
    for r in planned.scores:
        outcome.rows.append({"scores": r.lo, **store.drop_scores(conn, r, run, **drop)})
        if log is not None:
            log.info("dropped the scores of %s .. %s: %s", r.lo, r.hi, outcome.rows[-1])
    if outcome.rows or now.weekday() == SUNDAY:
        store.analyze(conn)
    return outcome
