"""Windows, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.windows import days, detection_windows, scheduled_window


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
