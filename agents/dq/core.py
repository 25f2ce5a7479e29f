"""Pure core of the data-quality gate: bars in, clean bars and findings out.

No I/O and no Faust: the agent, the replay harness, the backtest and the tests
run this same object. Everything is judged in event time, so the same bars give
the same findings, byte for byte, however often they are replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.dq.calendars import SessionCalendar, session_calendar
from agents.dq.containment import UNKNOWN_INSTRUMENT, Rejection
from agents.dq.cross import CrossMarketCheck
from agents.dq.findings import WARNING, Finding
from agents.dq.stream import InvalidBar, StreamChecker, validate
from streams.config import DataQuality, DeskConfig

__all__ = ["DataQualityCore", "InvalidBar", "Outcome", "Rejection"]

INTRADAY_RULES = ("24/7", "24/5")


@dataclass
class Outcome:
    """What one bar produced: its clean version (None if unusable), the findings and, for a
    bar containment kept out, the rejection (the agent dead-letters the bar with it)."""

    clean: dict[str, Any] | None
    findings: list[Finding] = field(default_factory=list)
    rejection: Rejection | None = None

    def reports(self) -> list[dict[str, Any]]:
        return [f.event() for f in self.findings]


def _no_calendar(_symbol: str, _interval: str) -> str | None:
    return None


class DataQualityCore:
    """All streams' checks plus the cross-market groups.

    ``known``: whether a venue/symbol may pass (the desk's universe and
    ``data_quality.extra_streams``); None accepts every stream. Each stream is
    judged by its venue profile (``data_quality.profiles``); ``profile`` forces
    one profile on every stream (``desk dq check --profile``).
    """

    def __init__(
        self,
        cfg: DataQuality,
        calendar_for: Callable[[str, str], str | None] | None = None,
        known: Callable[[str, str], bool] | None = None,
        profile: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.profile = profile
        if profile is not None:
            cfg.profile_for("", profile)  # an unknown name fails here, not on the first bar
        self.calendar_for = calendar_for or _no_calendar
        self.known = known
        self.unknown_seen: set[str] = set()
        self.streams: dict[tuple[str, str, str], StreamChecker] = {}
        self.groups = [CrossMarketCheck(g) for g in cfg.cross_market]

    @classmethod
    def from_config(cls, config: DeskConfig) -> DataQualityCore:
        return cls(config.data_quality, config.calendar_for, config.known_stream)

    def _checker(self, bar: Mapping[str, Any]) -> StreamChecker:
        key = (bar["venue"], bar["symbol"], bar["interval"])
        checker = self.streams.get(key)
        if checker is None:
            stream = f"{bar['venue']}:{bar['symbol']}"
            calendar = self.calendar_for(stream, bar["interval"])
            sessions: SessionCalendar | None = None
            if calendar and calendar not in INTRADAY_RULES and bar["interval"] == "1d":
                try:
                    sessions = session_calendar(calendar)
                except ValueError as exc:
                    raise InvalidBar(f"{stream}: {exc}") from None
            own = self.cfg.for_stream(stream, self.profile)
            checker = StreamChecker(*key, cfg=own, calendar=calendar, sessions=sessions)
            self.streams[key] = checker
        return checker

    def process(self, bar: Mapping[str, Any]) -> Outcome:
        """Judge one bar. Raises ``InvalidBar`` only for bars with no usable identity."""
        validate(bar)
        if self.known is not None and not self.known(bar["venue"], bar["symbol"]):
            return self._unknown(bar)
        checker = self._checker(bar)
        clean, findings, rejection = checker.process(bar)
        if clean is not None:
            stream = f"{bar['venue']}:{bar['symbol']}"
            for group in self.groups:
                if group.wants(stream, bar["interval"]):
                    findings.extend(
                        group.add(stream, bar["open_time"], clean["close"], bar["ts_ingest"])
                    )
        return Outcome(clean, findings, rejection)

    def _unknown(self, bar: Mapping[str, Any]) -> Outcome:
        """A stream outside the universe: rejected, reported once per stream."""
        stream = f"{bar['venue']}:{bar['symbol']}"
        why = f"{stream} is not in the desk's universe (nor data_quality.extra_streams)"
        findings = []
        if stream not in self.unknown_seen:
            self.unknown_seen.add(stream)
            findings.append(
                Finding(
                    venue=bar["venue"],
                    symbol=bar["symbol"],
                    check=UNKNOWN_INSTRUMENT,
                    severity=WARNING,
                    message=f"{stream} {bar['interval']}: {why}; its bars are dead-lettered",
                    ts_event=bar["ts_event"],
                    ts_ingest=bar["ts_ingest"],
                    window_start=bar["open_time"],
                    evidence={"interval": bar["interval"]},
                )
            )
        return Outcome(None, findings, Rejection(UNKNOWN_INSTRUMENT, why))

    def tick(self, now_ms: int) -> list[Finding]:
        """Wall-clock staleness for live feeds: streams silent for ``stale_intervals``."""
        out: list[Finding] = []
        for checker in self.streams.values():
            st = checker.state
            if st.stale_open or st.last_close_time is None:
                continue
            if now_ms - st.last_close_time > checker.cfg.stale_intervals * checker.step:
                probe = {"ts_event": now_ms, "ts_ingest": now_ms}
                out.append(checker.stale_finding(probe, now=now_ms, silent_from=st.last_close_time))
        return out

    def freshness(self, venue: str, symbol: str, interval: str) -> dict[str, Any] | None:
        """Freshness and open critical problems of one stream (cross-market included)."""
        checker = self.streams.get((venue, symbol, interval))
        if checker is None:
            return None
        state = checker.freshness()
        stream = f"{venue}:{symbol}"
        groups = [g for g in self.groups if g.step == checker.step]
        if any(stream in g.critical_streams() for g in groups):
            state["critical"] = sorted({*state["critical"], "cross_market_divergence"})
        # an open divergence episode is the headline of its stream while it lasts
        episodes = [e for g in groups if (e := g.open_episode(stream)) is not None]
        if episodes:
            state["headline"] = max(episodes, key=lambda e: abs(float(e["peak_bps"])))
        return state
