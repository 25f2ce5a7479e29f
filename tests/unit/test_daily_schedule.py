"""The daily runs at 08:00 and 14:00 London: the right UTC instants across the spring and
autumn clock changes, and none on a day the exchange is closed."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.daily.schedule import next_run, runs

UTC = dt.UTC


def at(day: str, hh: int) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hh, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "morning_utc", "ticket_utc"),
    [
        ("2025-03-28", 8, 14),  # Friday before the spring change (GMT, UTC+0)
        ("2025-03-31", 7, 13),  # Monday after it (BST, UTC+1): clocks went forward on the 30th
        ("2025-10-24", 7, 13),  # Friday before the autumn change (BST)
        ("2025-10-27", 8, 14),  # Monday after it (GMT): clocks went back on the 26th
        ("2024-03-29", None, None),  # Good Friday: NYSE closed, no run
    ],
)
def test_the_runs_follow_london_time_across_both_clock_changes(day, morning_utc, ticket_utc):
    d = dt.date.fromisoformat(day)
    got = runs(d, d)
    if morning_utc is None:
        assert got == []
        return
    assert [(r.job, r.at) for r in got] == [("morning", at(day, morning_utc)),
                                            ("ticket", at(day, ticket_utc))]  # fmt: skip
    assert all(r.local.hour in (8, 14) and r.local.minute == 0 for r in got)
    assert all(r.trading_day == d for r in got)


def test_a_week_over_the_spring_change_has_every_run_and_no_weekend() -> None:
    week = runs(dt.date(2025, 3, 27), dt.date(2025, 4, 2))
    days = sorted({r.trading_day for r in week})
    assert [d.isoformat() for d in days] == ["2025-03-27", "2025-03-28", "2025-03-31",
                                             "2025-04-01", "2025-04-02"]  # fmt: skip
    assert len(week) == 10 and all(r.at.tzinfo == UTC for r in week)
    assert [r.at for r in week] == sorted(r.at for r in week)


def test_the_next_run_skips_the_weekend_and_the_clock_change() -> None:
    friday_after_ticket = dt.datetime(2025, 3, 28, 15, 0, tzinfo=UTC)
    nxt = next_run(friday_after_ticket)
    assert (nxt.job, nxt.at) == ("morning", at("2025-03-31", 7))
    assert next_run(at("2025-03-31", 7)).job == "ticket"  # strictly after
    with pytest.raises(ValueError, match="aware"):
        next_run(dt.datetime(2025, 3, 28, 15, 0))
