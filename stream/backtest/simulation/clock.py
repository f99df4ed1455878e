"""Simulated time: integer seconds since the Unix epoch, formatted as ISO-8601 UTC quickly.

Generated data never reads the wall clock; every time derives from the configured start.
"""

from __future__ import annotations

from datetime import datetime, timezone

DAY = 86_400
HOUR = 3_600
MINUTE = 60

_DAY_PREFIX: dict[int, str] = {}
#: "HH:MM:SSZ" for every second of a day (about 5 MB, built once on first use).
_CLOCK: list[str] = []


def parse_start(text: str) -> int:
    """``2026-01-01`` or ``2026-01-01T00:00:00Z`` -> epoch seconds at that instant (UTC if naive)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())


def iso(t: int) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ``; the day prefix is cached, the rest is arithmetic."""
    day, sec = divmod(t, DAY)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = datetime.fromtimestamp(day * DAY, timezone.utc).strftime("%Y-%m-%dT")
        _DAY_PREFIX[day] = prefix
    if not _CLOCK:
        _CLOCK.extend(f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60))
    return prefix + _CLOCK[sec]


def day_of_month_and_weekday(t: int) -> tuple[int, int, int]:
    """(day of month, weekday 0=Monday, days in month) of the UTC day containing ``t``."""
    value = datetime.fromtimestamp(t, timezone.utc)
    if value.month == 12:
        nxt = value.replace(year=value.year + 1, month=1, day=1)
    else:
        nxt = value.replace(month=value.month + 1, day=1)
    days_in_month = (nxt - value.replace(day=1)).days
    return value.day, value.weekday(), days_in_month
