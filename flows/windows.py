"""Time windows: which traces a scheduled run, a backfill day or a detection looks at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

Window = tuple[datetime, datetime]


def floor_time(ts: datetime, step: timedelta) -> datetime:
    """Round down to a multiple of ``step`` since the Unix epoch (UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    plain = datetime.fromtimestamp(ts.timestamp(), UTC)  # pendulum times do not floor-divide
    return epoch + ((plain - epoch) // step) * step


def scheduled_window(scheduled: datetime, minutes: int, grace_minutes: int) -> Window:
    """The last complete window before ``scheduled``, after waiting ``grace`` for late traces."""
    step = timedelta(minutes=minutes)
    end = floor_time(scheduled - timedelta(minutes=grace_minutes), step)
    return end - step, end


def days(start: datetime, end: datetime) -> Iterator[Window]:
    """[start, end) cut at UTC midnights."""
    return chunks(start, end, 24)


def chunks(start: datetime, end: datetime, hours: int) -> Iterator[Window]:
    """[start, end) cut at multiples of ``hours`` since the Unix epoch (UTC midnights, and
    the hours between, when ``hours`` divides 24)."""
    if end <= start:
        raise ValueError(f"the range is empty: {start.isoformat()} to {end.isoformat()}")
    step = timedelta(hours=hours)
    cursor = start
    while cursor < end:
        stop = min(floor_time(cursor, step) + step, end)
        yield cursor, stop
        cursor = stop


def detection_windows(
    end: datetime, window_hours: int, baseline_days: int
) -> tuple[Window, Window]:
    """The aligned detection window containing the instant before ``end``, and its baseline.

    Windows are aligned (to UTC midnight for 24 hours) so that every run inside one window
    refreshes the same regression instead of opening a new one.
    """
    start = floor_time(end - timedelta(microseconds=1), timedelta(hours=window_hours))
    return (start, end), (start - timedelta(days=baseline_days), start)
