"""What the detector watches: each metric's direction, its test, its floor and its minimum.

A metric is read per trace. Evaluator scores in [0, 1] give two metrics each: the score
itself (a drop is bad) and the share of traces below the evaluator's threshold (for
groundedness, the hallucination rate; a rise is bad). The trace's own columns give cost per
request, input and output tokens, latency p95 and the error rate (a rise is bad).

Defaults, and why:
- ``min_window_n`` 30 and ``min_baseline_n`` 50: below about 30 a rank test or a quantile
  test has little power and one odd trace moves a mean; the baseline, a week of traffic,
  must be larger than the window it judges.
- score floor 0.05: a drop of 0.05 on a [0, 1] score is about a fifth of the spread of a
  typical evaluator's scores on real traffic; smaller shifts are within day-to-day drift.
- rate floors 0.05 (below threshold) and 0.02 (errors): a change of rate of that size is one
  more bad answer in 20 (one more error in 50), what an on-call person would act on.
- relative floors 0.20 for cost, tokens and latency p95: price, length and latency wander by
  ten percent or so from day to day with the mix of questions.
- question drift floor 0.05: the mean cosine similarity of the window's questions to the
  baseline's centroid falling by 0.05 (MiniLM) is a visible change of topics, more than a
  new phrasing of the same ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from vigil.errors import VigilError

Kind = Literal["continuous", "rate", "quantile"]
Direction = Literal["down", "up"]  # the direction that is bad


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    bad: Direction
    floor: float  # the smallest effect worth a regression, in the bad direction
    relative: bool = False  # the effect is window / baseline - 1, not window - baseline
    quantile: float = 0.95  # for kind "quantile"

    @property
    def test(self) -> str:
        return {
            "continuous": "Mann-Whitney U, one-sided",
            "rate": "Fisher's exact test, one-sided",
            "quantile": f"Mood's test of the p{self.quantile * 100:.0f}: above the pooled"
            " quantile, window against baseline, Fisher's exact, one-sided",
        }[self.kind]


SCORE = Metric("score", "continuous", "down", floor=0.05)
BELOW_THRESHOLD = Metric("below_threshold_rate", "rate", "up", floor=0.05)
COST = Metric("cost_per_request", "continuous", "up", floor=0.20, relative=True)
TOKENS_IN = Metric("input_tokens", "continuous", "up", floor=0.20, relative=True)
TOKENS_OUT = Metric("output_tokens", "continuous", "up", floor=0.20, relative=True)
LATENCY_P95 = Metric("latency_p95", "quantile", "up", floor=0.20, relative=True)
ERROR_RATE = Metric("error_rate", "rate", "up", floor=0.02)
# Incoming questions' similarity to the baseline's (vigil.detection.drift): a drop is drift.
QUESTION_DRIFT = Metric("question_drift", "continuous", "down", floor=0.05)

# Trace columns read by the trace metrics (the column, the metric).
TRACE_METRICS: tuple[tuple[str, Metric], ...] = (
    ("cost_usd", COST),
    ("tokens_in", TOKENS_IN),
    ("tokens_out", TOKENS_OUT),
    ("latency_ms", LATENCY_P95),
    ("error", ERROR_RATE),
    ("question_similarity", QUESTION_DRIFT),  # present when the pass embedded questions
)


NEW_SHARE = 0.1
TAIL_POINTS = 5  # expected baseline traces beyond a quantile before it is tested
NAMES = (SCORE.name, BELOW_THRESHOLD.name, *(m.name for _, m in TRACE_METRICS))


@dataclass(frozen=True)
class Limits:
    """The detector's settings (``VIGIL_DETECT_*``), resolved at the edge."""

    fdr: float = 0.01  # Benjamini-Hochberg level over every test of one pass
    min_window_n: int = 30
    min_baseline_n: int = 50
    max_segment_values: int = 20  # per key; the rest fold into "(other)"
    threshold: float = 0.5  # a score below it counts toward the below-threshold rate
    floors: tuple[tuple[str, float], ...] = ()  # per-metric overrides of Metric.floor

    def __post_init__(self) -> None:
        unknown = sorted(set(dict(self.floors)) - set(NAMES))
        if unknown:
            raise VigilError(
                f"VIGIL_DETECT_FLOORS names unknown metric(s) {', '.join(unknown)}; "
                f"the metrics are: {', '.join(NAMES)}"
            )

    def is_new(self, own_baseline_n: int, window_share: float, baseline_n: int) -> bool:
        """A segment value with (almost) no history, such as a new prompt version: under
        ``min_baseline_n`` baseline traces and under a tenth of what its window share would
        give. A value whose baseline is merely short (an app's first days) is not new."""
        expected = window_share * baseline_n
        return own_baseline_n < self.min_baseline_n and own_baseline_n <= NEW_SHARE * expected

    def baseline_needed(self, metric: Metric) -> int:
        """The fewest baseline traces a test of ``metric`` needs: a quantile test counts the
        traces beyond the pooled quantile, and wants ``TAIL_POINTS`` of them expected in the
        baseline (100 for a p95)."""
        if metric.kind != "quantile":
            return self.min_baseline_n
        return max(self.min_baseline_n, math.ceil(TAIL_POINTS / (1.0 - metric.quantile)))

    def floor(self, metric: Metric) -> float:
        return dict(self.floors).get(metric.name, metric.floor)
