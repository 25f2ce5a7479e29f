"""When the daily workflow runs: 08:00 (data, status, gates, report) and 14:00 (ticket),
Europe/London, on the trading days of the exchange the ticket trades (XNYS).

The wall-clock times are the desk's (London); the instants are UTC and move with British
Summer Time, which APScheduler's cron trigger resolves (a well-kept scheduler: the spring
and autumn changes are its problem, tested here). A day the exchange is closed has no
run: there is no end-of-day data for it and nothing to trade.

Pure apart from the calendar and the trigger: ``runs(start, end)`` is what a scheduler
would fire, ``next_run(now)`` what it fires next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from apscheduler.triggers.cron import CronTrigger

TZ = "Europe/London"
CALENDAR = "XNYS"


@dataclass(frozen=True)
class Job:
    name: str
    hour: int
    minute: int
    steps: tuple[str, ...]


JOBS = (
    Job("morning", 8, 0, ("ingest", "data_quality", "status", "gates", "report")),
    Job("ticket", 14, 0, ("ticket",)),
)


@dataclass(frozen=True)
class Run:
    job: str
    at: dt.datetime  # UTC
    local: dt.datetime  # the desk's wall clock
    trading_day: dt.date

    def to_json(self) -> dict[str, str]:
        return {
            "job": self.job,
            "at_utc": self.at.isoformat(),
            "local": self.local.isoformat(),
            "trading_day": self.trading_day.isoformat(),
        }


@cache
def _sessions(calendar: str) -> frozenset[dt.date]:
    import exchange_calendars as xcals

    cal = xcals.get_calendar(calendar)
    return frozenset(d.date() for d in cal.sessions)


def trading_day(day: dt.date, calendar: str = CALENDAR) -> bool:
    sessions = _sessions(calendar)
    if not sessions or not (min(sessions) <= day <= max(sessions)):
        return day.weekday() < 5  # beyond the calendar's range: weekdays (a stated fallback)
    return day in sessions


def _trigger(job: Job, tz: str) -> CronTrigger:
    return CronTrigger(hour=job.hour, minute=job.minute, day_of_week="mon-fri", timezone=tz)


def runs(start: dt.date, end: dt.date, tz: str = TZ, calendar: str = CALENDAR) -> list[Run]:
    """Every run from ``start`` to ``end`` (inclusive), in time order."""
    out: list[Run] = []
    for job in JOBS:
        out += _fires(job, start, end, tz, calendar)
    return sorted(out, key=lambda r: (r.at, r.job))


def _fires(job: Job, start: dt.date, end: dt.date, tz: str, calendar: str) -> Iterator[Run]:
    trigger = _trigger(job, tz)
    utc = dt.UTC
    now = dt.datetime.combine(start, dt.time(0), utc) - dt.timedelta(days=1)
    prev = None
    stop = dt.datetime.combine(end, dt.time(23, 59), utc) + dt.timedelta(days=1)
    while True:
        fire = trigger.get_next_fire_time(prev, now)
        if fire is None or fire > stop:
            return
        prev, now = fire, fire + dt.timedelta(seconds=1)
        day = fire.date()
        if start <= day <= end and trading_day(day, calendar):
            yield Run(job.name, fire.astimezone(utc), fire, day)


def next_run(now: dt.datetime, tz: str = TZ, calendar: str = CALENDAR) -> Run:
    """The first run strictly after ``now`` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.astimezone(dt.UTC).date()
    for horizon in (7, 31, 366):
        later = [r for r in runs(day, day + dt.timedelta(days=horizon), tz, calendar) if r.at > now]
        if later:
            return later[0]
    raise ValueError(f"no run within a year after {now.isoformat()}")
