"""The end-of-day data-quality gate (pure): may the prices of an as-of date be used?

Per symbol the ticket needs (tradables and benchmarks), over the last ``lookback``
sessions of *its own* calendar up to the as-of date:

* **not listed yet** — no value before the window's end at all: the fund did not exist
  (the wide file's leading empty cells); the symbol is not tradable, which is not a
  data failure;
* **missing trading day** — a session of its calendar without a row (FAIL);
* **null adjusted close** — a row whose adjusted close is empty after listing (FAIL);
* **stale price** — the same adjusted close for ``stale_sessions`` sessions running up to
  the as-of date (FAIL);
* **calendar mixing** — a row on a day its exchange was closed (the wide file carries the
  ETFs through weekends and holidays because BTC-USD trades then): not a price, ignored
  and counted; a 24/7 symbol's calendar has every day.

If the as-of date is not a session of the desk's calendar (a holiday, a weekend), the
gate judges the session before it and says so (the holiday fallback).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from analytics.daily.eod import EodRow

ALWAYS = "24/7"


@cache
def _xcal_sessions(calendar: str) -> tuple[dt.date, ...]:
    import exchange_calendars as xcals

    cal = xcals.get_calendar(calendar, start="1990-01-02")
    return tuple(d.date() for d in cal.sessions)


def sessions(calendar: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """The calendar's sessions from ``start`` to ``end`` inclusive."""
    if calendar == ALWAYS:
        return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return [d for d in _xcal_sessions(calendar) if start <= d <= end]


def session_on_or_before(calendar: str, day: dt.date) -> dt.date:
    back = sessions(calendar, day - dt.timedelta(days=14), day)
    if not back:
        raise ValueError(f"no {calendar} session in the two weeks before {day}")
    return back[-1]


@dataclass(frozen=True)
class Finding:
    symbol: str
    check: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "check": self.check,
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass
class EodQuality:
    as_of: dt.date
    effective: dt.date  # the session judged (the as-of date, or the one before it)
    findings: list[Finding] = field(default_factory=list)
    prices: dict[str, Decimal] = field(default_factory=dict)  # symbol -> adj close used
    not_listed: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "PASS" if all(f.passed for f in self.findings) else "FAIL"

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "as_of": self.as_of.isoformat(),
            "effective": self.effective.isoformat(),
            "prices": {s: str(p) for s, p in sorted(self.prices.items())},
            "not_listed": sorted(self.not_listed),
            "findings": [f.to_json() for f in self.findings],
        }

    def markdown(self) -> str:
        lines = [
            f"# End-of-day data quality: {self.status}",
            "",
            f"- as of {self.as_of}"
            + (
                "" if self.effective == self.as_of else f" (not a session: judged {self.effective})"
            ),
            f"- prices used: {len(self.prices)}; not listed yet: "
            f"{', '.join(sorted(self.not_listed)) or 'none'}",
            "",
        ]
        if self.failures:
            lines += ["## Failures (fix these, then re-run)", ""]
            lines += [f"- **{f.symbol}** {f.check}: {f.detail}" for f in self.failures]
            lines.append("")
        lines += ["## Checks", "", "| symbol | check | ok | detail |", "|---|---|---|---|"]
        lines += [
            f"| {f.symbol} | {f.check} | {'yes' if f.passed else '**no**'} | {f.detail} |"
            for f in self.findings
        ]
        return "\n".join(lines) + "\n"


def check(
    rows: Mapping[str, Mapping[dt.date, EodRow]],
    symbols: Sequence[tuple[str, str]],  # (symbol, its calendar: "XNYS" or "24/7")
    as_of: dt.date,
    lookback: int = 20,
    stale_sessions: int = 5,
    desk_calendar: str = "XNYS",
) -> EodQuality:
    effective = session_on_or_before(desk_calendar, as_of)
    q = EodQuality(as_of, effective)
    for symbol, calendar in symbols:
        have = rows.get(symbol, {})
        valued = sorted(d for d, r in have.items() if r.adj_close is not None)
        end = effective if calendar != ALWAYS else as_of
        if not valued or valued[0] > end:
            q.not_listed.append(symbol)
            q.findings.append(Finding(symbol, "listed", True, f"not listed yet on {end}"))
            continue
        start = max(valued[0], end - dt.timedelta(days=lookback * 2 + 14))
        window = sessions(calendar, start, end)[-lookback:]
        closed = [
            d
            for d in have
            if start <= d <= end and d not in set(window) and d >= (window[0] if window else start)
        ]
        missing = [d for d in window if d not in have]
        nulls = [d for d in window if d in have and have[d].adj_close is None]
        q.findings.append(
            Finding(
                symbol,
                "trading_days",
                not missing,
                f"{len(window) - len(missing)}/{len(window)} {calendar} "
                "sessions present" + (f"; missing {_days(missing)}" if missing else ""),
            )
        )
        q.findings.append(
            Finding(
                symbol,
                "adj_close",
                not nulls,
                f"null adjusted close on {_days(nulls)}"
                if nulls
                else "present on every session used",
            )
        )
        if closed:
            q.findings.append(
                Finding(
                    symbol,
                    "calendar",
                    True,
                    f"{len(closed)} row(s) on days {calendar} was closed: "
                    "ignored (carried prices, not trades)",
                )
            )
        tail = [have[d].adj_close for d in window if d in have][-stale_sessions:]
        stale = len(tail) == stale_sessions and len(set(tail)) == 1
        q.findings.append(
            Finding(
                symbol,
                "stale",
                not stale,
                f"the same adjusted close {tail[-1]} on the last {stale_sessions} sessions"
                if stale
                else "moving",
            )
        )
        last = have.get(end)
        if last is not None and last.adj_close is not None:
            q.prices[symbol] = last.adj_close
    return q


def _days(days: Sequence[dt.date]) -> str:
    shown = ", ".join(d.isoformat() for d in days[:5])
    return shown + (f" and {len(days) - 5} more" if len(days) > 5 else "")
