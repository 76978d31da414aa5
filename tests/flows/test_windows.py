"""Windows and the regression rule, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.detection import Rule, is_regression, z_score
from flows.windows import days, detection_windows, scheduled_window
from vigil.store.regressions import WindowStats


def t(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_scheduled_window_is_the_last_complete_one_after_grace() -> None:
    assert scheduled_window(t(5, 10, 15), 15, 5) == (t(5, 9, 45), t(5, 10, 0))
    assert scheduled_window(t(5, 10, 20), 15, 5) == (t(5, 10, 0), t(5, 10, 15))


def test_days_cut_at_midnight() -> None:
    assert list(days(t(1, 12), t(3, 6))) == [(t(1, 12), t(2)), (t(2), t(3)), (t(3), t(3, 6))]
    with pytest.raises(ValueError, match="empty"):
        list(days(t(2), t(2)))


def test_detection_window_is_aligned_to_the_day() -> None:
    window, baseline = detection_windows(t(5, 14, 15), 24, 7)
    assert window == (t(5), t(5, 14, 15))
    assert baseline == (datetime(2026, 2, 26, tzinfo=UTC), t(5))
    assert detection_windows(t(6), 24, 7)[0] == (t(5), t(6))  # a whole day ends at midnight


def stats(
    w_mean: float, w_n: int, b_mean: float = 0.7, b_n: int = 1000, var: float = 0.04
) -> WindowStats:
    return WindowStats("a", "g", "1", w_n, w_mean, var, b_n, b_mean, var)


def test_rule_needs_weight_and_size() -> None:
    rule = Rule()
    assert is_regression(stats(0.55, 200), rule)
    assert not is_regression(stats(0.69, 200), rule)  # too small a drop
    assert not is_regression(stats(0.55, 10), rule)  # too few scores
    assert not is_regression(stats(0.75, 200), rule)  # an improvement
    assert not is_regression(stats(0.64, 30, var=0.09), rule)  # drop within noise
    z = z_score(stats(0.6, 100))
    assert z is not None and z == pytest.approx(0.1 / (0.04 / 100 + 0.04 / 1000) ** 0.5)
