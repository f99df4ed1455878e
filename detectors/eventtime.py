"""Event time as integer milliseconds since the Unix epoch: exact, cheap to compare and to store."""

from __future__ import annotations

from datetime import datetime, timezone

MS_PER_SECOND = 1_000
MS_PER_MINUTE = 60 * MS_PER_SECOND
MS_PER_HOUR = 60 * MS_PER_MINUTE
MS_PER_DAY = 24 * MS_PER_HOUR


def to_ms(moment: datetime) -> int:
    """Event time of an aware datetime (rounded, so the same instant always gives the same integer)."""
    return round(moment.timestamp() * MS_PER_SECOND)


def to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / MS_PER_SECOND, tz=timezone.utc)


def hours(value: float) -> int:
    return round(value * MS_PER_HOUR)


def minutes(value: float) -> int:
    return round(value * MS_PER_MINUTE)


def days(value: float) -> int:
    return round(value * MS_PER_DAY)


def describe_duration(ms: int) -> str:
    """Short human duration for alert reasons: '40 min', '5 h', '3 days'."""
    if ms < MS_PER_HOUR:
        return f"{max(1, round(ms / MS_PER_MINUTE))} min"
    if ms < 2 * MS_PER_DAY:
        return f"{round(ms / MS_PER_HOUR)} h"
    return f"{round(ms / MS_PER_DAY)} days"
