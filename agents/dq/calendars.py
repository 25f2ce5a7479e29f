"""Which bars a stream should have: trading calendars for expected-bar counting.

End-of-day streams are checked against a real exchange calendar
(``exchange-calendars``): a missing session is "missing", a day before the
stream's first bar is "not listed yet", a bar on a non-session day is flagged.
Intraday streams count expected bars per interval; ``24/5`` skips the forex
weekend (Friday 17:00 to Sunday 17:00 New York time), ``24/7`` skips nothing.
"""

from __future__ import annotations

import bisect
import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
CALENDAR_START = "1990-01-01"
NEW_YORK = ZoneInfo("America/New_York")


class SessionCalendar:
    """Sessions of one exchange calendar as sorted epoch days (fast membership and counting)."""

    def __init__(self, code: str, days: list[int]) -> None:
        self.code = code
        self._days = days
        self._set = frozenset(days)
        self.first, self.last = days[0], days[-1]

    def covers(self, day: int) -> bool:
        return self.first <= day <= self.last

    def is_session(self, day: int) -> bool:
        return day in self._set

    def sessions_between(self, after: int, before: int) -> list[int]:
        """Sessions strictly between two epoch days."""
        lo = bisect.bisect_right(self._days, after)
        hi = bisect.bisect_left(self._days, before)
        return self._days[lo:hi]


@lru_cache(maxsize=16)
def session_calendar(code: str) -> SessionCalendar:
    """Load an exchange calendar once per process; an unknown code is a one-line error."""
    import exchange_calendars as xc

    try:
        cal = xc.get_calendar(code, start=CALENDAR_START)
    except xc.errors.InvalidCalendarName:
        raise ValueError(f"unknown trading calendar {code!r} (exchange-calendars code)") from None
    days = [int(ts.value // 1_000_000 // DAY_MS) for ts in cal.sessions]
    return SessionCalendar(code, days)


def forex_closed(open_time_ms: int) -> bool:
    """True inside the forex weekend: Friday 17:00 to Sunday 17:00 New York time."""
    ny = dt.datetime.fromtimestamp(open_time_ms / 1000, NEW_YORK)
    weekday, hour = ny.weekday(), ny.hour
    return weekday == 5 or (weekday == 4 and hour >= 17) or (weekday == 6 and hour < 17)


def expected_missing(calendar: str | None, last_open: int, open_time: int, step: int) -> int:
    """Bars a ``24/7``/``24/5`` stream should have had strictly between two open times."""
    count = (open_time - last_open) // step - 1
    if count <= 0 or calendar != "24/5":
        return max(count, 0)
    return sum(1 for t in range(last_open + step, open_time, step) if not forex_closed(t))
