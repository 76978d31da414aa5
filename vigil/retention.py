"""How long traces and scores are kept (``vigil retention``), and what that must respect.

Retention drops whole time partitions (migration 0017, :mod:`vigil.store.retention`):
traces with their spans and retrievals at the traces' retention, scores at theirs. Scores
are kept at least as long as their traces: before a week of traces drops, its scores are
rolled up per day and segment (``score_segment_daily``), and a trace kept without its
scores would be scored again. Traces are kept long enough for what reads them raw: the
detector's window and baseline, and the longest SLO period; scores for the weeks the
Evaluators page compares with reviewers' labels. Both are checked when the policy is set
and again before each run drops anything, as the settings may have changed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from vigil.errors import VigilError
from vigil.settings import Settings
from vigil.slo import duration
from vigil.slo import load as load_slos

FOREVER = "forever"
DATA = ("traces", "scores")
CALIBRATION_WEEKS = 12  # the Evaluators page: reviewers' labels beside these weeks of scores


@dataclass(frozen=True)
class Policy:
    """Days each kind of data is kept (None: forever), and the width of new partitions."""

    traces_days: int | None = None
    scores_days: int | None = None
    partition_days: int = 7

    def describe(self) -> list[str]:
        """What the policy means, a line per data."""
        lines = []
        for data, days in (("traces", self.traces_days), ("scores", self.scores_days)):
            if days is None:
                lines.append(f"{data} kept forever")
            else:
                lines.append(
                    f"{data} kept {days} days; dropped {self.partition_days} days at a time, "
                    f"so up to {days + self.partition_days}"
                )
        return lines


def parse_keep(text: str, option: str) -> int | None:
    """``30d`` as 30 days, ``forever`` as None; anything else is refused, naming ``option``."""
    if text.strip().lower() == FOREVER:
        return None
    try:
        span = duration(text)
    except ValueError as err:
        raise VigilError(f"{option} {text!r}: give whole days, e.g. 30d, or {FOREVER}") from err
    if span < timedelta(days=1) or span % timedelta(days=1):
        raise VigilError(f"{option} {text!r}: retention is in whole days, e.g. 30d or 400d")
    return span.days


@dataclass(frozen=True)
class Needs:
    """How far back raw traces and scores are read, so how long they must be kept at least."""

    detection_days: float  # baseline + window of the detector, and a day of slack
    slo_days: float = 0.0  # the longest SLO period (0: no SLO file)
    calibration_days: float = 7.0 * CALIBRATION_WEEKS  # scores beside reviewers' labels


def needs_of(settings: Settings) -> Needs:
    """How far back Vigil reads, from the settings and the SLO file."""
    slo_days = 0.0
    if settings.slo_file is not None:
        slos = load_slos(settings.slo_file).slos
        slo_days = max((s.period.total_seconds() / 86400 for s in slos), default=0.0)
    return Needs(detection_days(settings.baseline_days, settings.detect_window_hours), slo_days)


def validate(policy: Policy, needs: Needs) -> None:
    """Refuse a policy that would drop what Vigil still reads, naming the fix."""
    traces, scores = policy.traces_days, policy.scores_days
    if scores is not None and (traces is None or scores < traces):
        shown = FOREVER if traces is None else f"{traces}d"
        fix = (
            f"Set --traces too (at most --scores {scores}d), or give --scores {FOREVER}."
            if traces is None
            else f"Give --scores {shown} or more."
        )
        raise VigilError(
            f"--scores {scores}d is shorter than --traces {shown}: scores are kept at least as "
            "long as their traces (the segment rollup is made from the traces when they drop, "
            f"and a trace kept without its scores would be scored again and counted twice). {fix}"
        )
    if scores is not None and scores < needs.calibration_days:
        raise VigilError(
            f"--scores {scores}d is shorter than the {CALIBRATION_WEEKS} weeks of scores that "
            "the Evaluators page compares with reviewers' labels: keep at least "
            f"{_days(needs.calibration_days)}d."
        )
    if traces is None:
        return
    if traces < 2 * policy.partition_days:
        raise VigilError(
            f"--traces {traces}d is shorter than two partitions ({policy.partition_days} days "
            f"each): keep at least {2 * policy.partition_days}d, or narrow the partitions with "
            "--partition-days."
        )
    if traces < needs.detection_days:
        raise VigilError(
            f"--traces {traces}d is shorter than what the detector reads (its window and "
            f"baseline, VIGIL_DETECT_WINDOW_HOURS and VIGIL_BASELINE_DAYS): keep at least "
            f"{_days(needs.detection_days)}d."
        )
    if traces < needs.slo_days:
        raise VigilError(
            f"--traces {traces}d is shorter than the longest SLO period in VIGIL_SLO_FILE: keep "
            f"at least {_days(needs.slo_days)}d, or shorten that SLO's period."
        )


def detection_days(baseline_days: int, detect_window_hours: int) -> float:
    """Days of raw traces a detection pass reads (window and baseline), plus a day."""
    return baseline_days + detect_window_hours / 24 + 1


def _days(days: float) -> int:
    return int(days) + (0 if days == int(days) else 1)
