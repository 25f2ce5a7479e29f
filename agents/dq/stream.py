"""Per-stream checks in event time: one ``StreamChecker`` per venue/symbol/interval.

Each defect is reported once per episode (the first bad bar of a run opens it,
the first good bar closes it), so a long defect is one report with its window,
not thousands. Bars that cannot be used (duplicates, out-of-order, bad prices)
stay out of ``market.bars.clean``; usable bars go on with their quality flags.

Containment (``agents.dq.containment``): a bar far ahead of the stream (or of its
ingest time) is rejected *before* it can move the stream on; a bar whose values
cannot be real (non-finite, <= 0, beyond ``decimal(38, 18)``, absurd against the
median of recent closes) is rejected without touching the price state. Each
rejection comes back with its reason (the agent dead-letters the bar with it)
and opens a finding episode of the same name.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.dq.calendars import DAY_MS, SessionCalendar, expected_missing
from agents.dq.containment import (
    ABSURD_VALUE,
    BAD_VALUE,
    FUTURE_TIMESTAMP,
    PRICE_LEVEL,
    UNREPRESENTABLE_VALUE,
    LeadGuard,
    PriceGuard,
    Rejection,
    ahead_of_clock,
    bad_values,
    unrepresentable_values,
)
from agents.dq.findings import CRITICAL, INFO, WARNING, Finding, iso, num
from analytics.indicators import EwmaVol
from connectors.feeds.normalize import interval_ms
from streams.config import DataQuality

PRICES = ("open", "high", "low", "close")
RECENT = 256  # open times remembered to tell a duplicate from an out-of-order bar


def _number(x: Any) -> float:
    """A bar value as a float; anything that is not a number becomes NaN (a bad value)."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


class InvalidBar(ValueError):
    """A bar that cannot be processed at all (dead-lettered, never silently dropped)."""


def validate(bar: Mapping[str, Any]) -> None:
    """Structure only: a bar must say which stream it belongs to and when it is."""
    for name in ("venue", "symbol", "interval"):
        if not bar.get(name):
            raise InvalidBar(f"bar {bar.get('event_id')}: empty {name}")
    try:
        interval_ms(bar["interval"])
    except ValueError as exc:
        raise InvalidBar(f"bar {bar.get('event_id')}: {exc}") from None
    if bar["open_time"] > bar["ts_event"]:
        raise InvalidBar(
            f"bar {bar['event_id']}: open_time {bar['open_time']} after ts_event {bar['ts_event']}"
        )


@dataclass
class StreamState:
    """What the desk knows about one stream's freshness and open problems."""

    last_open: int | None = None
    last_close_time: int | None = None
    last_ingest: int | None = None
    last_close: float | None = None
    bars: int = 0
    flagged: int = 0
    adj_close_seen: int = 0
    stale_open: bool = False
    zero_run: int = 0
    zero_run_start: int | None = None
    zero_run_carried: int = 0
    zero_runs: int = 0  # runs of zero_volume_run_bars or more, ended
    gap_runs: int = 0  # gaps of any length (a sparse venue's are mostly not reported)
    missing: int = 0  # bars missing inside those gaps
    episodes: dict[str, int] = field(default_factory=dict)  # check -> window start
    critical: set[str] = field(default_factory=set)


class StreamChecker:
    """All single-stream checks for one venue/symbol/interval."""

    def __init__(
        self,
        venue: str,
        symbol: str,
        interval: str,
        cfg: DataQuality,
        calendar: str | None = None,
        sessions: SessionCalendar | None = None,
    ) -> None:
        self.venue, self.symbol, self.interval = venue, symbol, interval
        self.step = interval_ms(interval)
        self.cfg = cfg  # already this stream's own settings (its venue profile laid over)
        self.sparse = cfg.density == "sparse"
        self.calendar = calendar
        self.sessions = sessions  # end-of-day streams only (the core decides)
        self.state = StreamState()
        self._recent: deque[int] = deque(maxlen=RECENT)
        self._recent_set: set[int] = set()
        self._last_values: tuple[float, ...] | None = None
        self._ref_close: float | None = None
        self._outliers_in_row = 0
        self._vol = EwmaVol(cfg.vol_halflife_bars, cfg.vol_warmup_bars)
        self._non_session_reported = False
        self._covered: int | None = None  # latest open time of a bar rejected for its values
        self.lead_bound = max(cfg.max_lead_ms, cfg.max_lead_intervals * self.step)
        self._lead = LeadGuard(cfg.future_confirm_bars)
        self._price = PriceGuard(
            float(cfg.max_price_ratio), cfg.price_reference_bars, cfg.absurd_confirm_bars
        )

    # -- helpers -----------------------------------------------------------------------------

    def _finding(
        self,
        bar: Mapping[str, Any],
        check: str,
        severity: str,
        message: str,
        window_start: int | None = None,
        window_end: int | None = None,
        **evidence: str,
    ) -> Finding:
        return Finding(
            venue=self.venue,
            symbol=self.symbol,
            check=check,
            severity=severity,
            message=f"{self.venue}:{self.symbol} {self.interval}: {message}",
            ts_event=bar["ts_event"],
            ts_ingest=bar["ts_ingest"],
            window_start=window_start,
            window_end=window_end,
            evidence={"interval": self.interval, **evidence},
        )

    def _open(self, check: str, start: int, severity: str) -> bool:
        """Open an episode; True when it is new (report it), False while it lasts."""
        if check in self.state.episodes:
            return False
        self.state.episodes[check] = start
        if severity == CRITICAL:
            self.state.critical.add(check)
        return True

    def _close(self, check: str) -> None:
        self.state.episodes.pop(check, None)
        self.state.critical.discard(check)

    def _remember(self, open_time: int) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(open_time)
        self._recent_set.add(open_time)

    # -- the checks --------------------------------------------------------------------------

    def process(
        self, bar: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, list[Finding], Rejection | None]:
        """One bar in: the clean bar (or None when unusable), the findings it revealed and,
        for a bar rejected by containment, why."""
        out: list[Finding] = []
        st = self.state
        t = bar["open_time"]
        try:
            values = (
                float(bar["open"]),
                float(bar["high"]),
                float(bar["low"]),
                float(bar["close"]),
                float(bar["volume"]),
            )
        except (TypeError, ValueError):  # not a number: a bad value, judged below
            values = tuple(_number(bar[k]) for k in (*PRICES, "volume"))

        if st.last_open is not None and t <= st.last_open:
            self._ordering(bar, t, values, out)
            return None, out, None
        future = self._future(bar, t, out)
        if future is not None:  # before any state moves: the next good bars carry on
            return None, out, future
        flags: list[str] = list(bar.get("quality_flags") or [])
        last = st.last_open
        if self._covered is not None and self._covered < t:
            last = max(last or self._covered, self._covered)  # a minute seen, values rejected
        if last is not None:
            self._continuity(bar, t, last, out)
        elif self.sessions is not None and self.sessions.covers(t // DAY_MS):
            out.append(
                self._finding(
                    bar,
                    "first_listing",
                    INFO,
                    f"first bar {iso(t)[:10]}: earlier sessions are not listed yet, not missing",
                    first_session=iso(t)[:10],
                )
            )
        self._non_session(bar, t, flags, out)
        st.last_close_time, st.last_ingest = bar["ts_event"], bar["ts_ingest"]
        st.bars += 1

        rejected = self._values_ok(bar, values, flags, out)
        if rejected is not None:
            # the minute was seen (no gap is reported for it) but the stream's ordering does
            # not move: a corrected copy of this bar is still accepted, not a "duplicate"
            self._covered = t if self._covered is None else max(self._covered, t)
            return None, out, rejected
        st.last_open = t
        self._remember(t)
        self._last_values = values
        close_only = "close_only" in flags
        if not close_only:
            self._ohlc(bar, values, flags, out)
            self._zero_volume(bar, values, flags, out)
        self._outlier(bar, values, flags, out)
        self._adj_close(bar, flags, out)
        st.last_close = values[3]
        self._price.accept(values[3])
        if len(flags) > len(bar.get("quality_flags") or []):
            st.flagged += 1
        clean = dict(bar)
        clean["quality_flags"] = sorted(set(flags))
        return clean, out, None

    def _future(self, bar: Mapping[str, Any], t: int, out: list[Finding]) -> Rejection | None:
        """Far ahead of the clock (its ingest time) or of the stream's last accepted bar."""
        why = ahead_of_clock(bar["ts_event"], bar["ts_ingest"], self.cfg.max_future_ms)
        if why is None:
            ahead = self._lead.judge(t, self.state.last_open, self.lead_bound)
            if ahead is None:
                if self.state.episodes:
                    self._close(FUTURE_TIMESTAMP)
                return None
            why = f"bar {iso(t)} is {ahead}"
        else:
            why = f"bar {iso(t)}: {why}"
        if self._open(FUTURE_TIMESTAMP, t, WARNING):
            out.append(
                self._finding(
                    bar,
                    FUTURE_TIMESTAMP,
                    WARNING,
                    f"{why}; rejected, the stream stays at {iso(self.state.last_open or t)}",
                    t,
                    t,
                    open_time=str(t),
                    last_open_time=str(self.state.last_open),
                )
            )
        return Rejection(FUTURE_TIMESTAMP, f"{self.venue}:{self.symbol} {self.interval} {why}")

    def _ordering(
        self, bar: Mapping[str, Any], t: int, values: tuple[float, ...], out: list[Finding]
    ) -> None:
        """A bar at or before the last one: a duplicate (same time) or out of order."""
        if t in self._recent_set:
            if t != self.state.last_open:
                sev, what = WARNING, "late duplicate of an earlier bar dropped"
            elif values == self._last_values:
                sev, what = INFO, "exact duplicate dropped"
            else:
                sev, what = WARNING, "duplicate with different values dropped"
            out.append(
                self._finding(
                    bar, "duplicate", sev, f"{what} (open {iso(t)})", t, t, open_time=str(t)
                )
            )
        else:
            out.append(
                self._finding(
                    bar,
                    "out_of_order",
                    WARNING,
                    f"bar {iso(t)} arrived after {iso(self.state.last_open or t)}; dropped",
                    t,
                    t,
                    open_time=str(t),
                    last_open_time=str(self.state.last_open),
                )
            )

    def _continuity(self, bar: Mapping[str, Any], t: int, last: int, out: list[Finding]) -> None:
        """Gaps (missing bars or sessions) since ``last`` and staleness judged on the next bar."""
        st = self.state
        if self.sessions is not None and self.sessions.covers(t // DAY_MS):
            missing_days = self.sessions.sessions_between(last // DAY_MS, t // DAY_MS)
            missing = len(missing_days)
            if missing:
                shown = ", ".join(iso(d * DAY_MS)[:10] for d in missing_days[:5])
                more = f" and {missing - 5} more" if missing > 5 else ""
                sev = CRITICAL if missing >= self.cfg.gap_critical_intervals else WARNING
                out.append(
                    self._finding(
                        bar,
                        "missing_session",
                        sev,
                        f"{missing} {self.sessions.code} session(s) missing: {shown}{more}",
                        missing_days[0] * DAY_MS,
                        missing_days[-1] * DAY_MS,
                        missing=str(missing),
                        calendar=self.sessions.code,
                        first_missing=shown,
                    )
                )
        else:
            missing = expected_missing(self.calendar, last, t, self.step)
            if missing:
                st.gap_runs += 1
                st.missing += missing
                sev = self._gap_severity(missing)
                if sev is not None:
                    out.append(
                        self._finding(
                            bar,
                            "gap",
                            sev,
                            f"{missing} bar(s) missing between {iso(last)} and {iso(t)}",
                            last + self.step,
                            t - self.step,
                            missing=str(missing),
                            after=str(last),
                            before=str(t),
                            duration_ms=str(t - last - self.step),
                        )
                    )
        # sparse: the gap episode says it all, no stale opened and cleared on one bar
        if not self.sparse and missing + 1 >= self.cfg.stale_intervals and not st.stale_open:
            out.append(self.stale_finding(bar, now=bar["ts_event"], silent_from=st.last_close_time))
        if st.stale_open:
            st.stale_open = False
            st.critical.discard("stale")
            out.append(
                self._finding(
                    bar,
                    "stale_cleared",
                    INFO,
                    f"bars again from {iso(t)}",
                    st.last_close_time,
                    t,
                    last_bar_close=str(st.last_close_time),
                )
            )

    def _gap_severity(self, missing: int) -> str | None:
        """A gap's severity; None: a sparse venue's ordinary quiet spell (counted only)."""
        if not self.sparse and missing >= self.cfg.gap_critical_intervals:
            return CRITICAL
        if missing >= self.cfg.gap_warning:
            return WARNING
        return None if self.sparse else INFO

    def stale_finding(self, bar: Mapping[str, Any], now: int, silent_from: int | None) -> Finding:
        """No bar for ``stale_intervals`` intervals: on a dense venue CRITICAL (risk fails
        closed on it); on a sparse venue a WARNING (quiet markets are normal there)."""
        self.state.stale_open = True
        severity = WARNING if self.sparse else CRITICAL
        if severity == CRITICAL:
            self.state.critical.add("stale")
        start = silent_from or now
        limit = self.cfg.stale_intervals * self.step
        f = self._finding(
            bar,
            "stale",
            severity,
            f"no bar from {iso(start)} for more than {self.cfg.stale_intervals} intervals",
            start,
            now,
            silent_ms=str(now - start),
            limit_ms=str(limit),
        )
        return f

    def _non_session(
        self, bar: Mapping[str, Any], t: int, flags: list[str], out: list[Finding]
    ) -> None:
        day = t // DAY_MS
        if self.sessions is None or not self.sessions.covers(day) or self.sessions.is_session(day):
            return
        flags.append("non_session")
        if not self._non_session_reported:
            self._non_session_reported = True
            out.append(
                self._finding(
                    bar,
                    "non_session_bar",
                    INFO,
                    f"bar on {iso(t)[:10]}, not a {self.sessions.code} session (carried-forward "
                    "value?); this and later ones are flagged non_session",
                    t,
                    t,
                    calendar=self.sessions.code,
                )
            )

    def _values_ok(
        self,
        bar: Mapping[str, Any],
        values: tuple[float, ...],
        flags: list[str],
        out: list[Finding],
    ) -> Rejection | None:
        """Values that cannot be real: the bar is dropped (None: the values are usable).

        ``bad_value``: NaN, zero or negative price, NaN or negative volume;
        ``unrepresentable_value``: beyond the wire's ``decimal(38, 18)``;
        ``absurd_value``: a price beyond ``max_price_ratio`` x the median of recent closes.
        """
        named = dict(zip((*PRICES, "volume"), values, strict=True))
        o, h, lo, c, v = values  # the usual case first: finite, positive, well inside decimals
        usual = all(1e-17 < x < 1e19 for x in (o, h, lo, c)) and 0.0 <= v < 1e19
        bad = [] if usual else bad_values(named, PRICES)
        if bad:
            check, why = BAD_VALUE, f"unusable values {', '.join(bad)}"
            evidence = {"values": ", ".join(bad)}
        elif not usual and (wide := unrepresentable_values(named, PRICES)):
            check, why = UNREPRESENTABLE_VALUE, f"values beyond decimal(38, 18): {'; '.join(wide)}"
            evidence = {"values": "; ".join(wide)}
        else:
            close_only = "close_only" in (bar.get("quality_flags") or [])
            prices = {k: named[k] for k in (("close",) if close_only else PRICES)}
            absurd, new_level = self._price.judge(prices, named["close"])
            if new_level:
                flags.append(PRICE_LEVEL)  # the strategy runner takes the new level too
                out.append(
                    self._finding(
                        bar,
                        "price_level_accepted",
                        WARNING,
                        f"{self.cfg.absurd_confirm_bars} bars in a row at a new price level"
                        f" (close {named['close']:.6g}): accepted",
                        bar["open_time"],
                        bar["open_time"],
                        close=num(named["close"], 12),
                    )
                )
            if absurd is None:
                if self.state.episodes:
                    for check in (BAD_VALUE, UNREPRESENTABLE_VALUE, ABSURD_VALUE):
                        self._close(check)
                return None
            check, why, evidence = ABSURD_VALUE, absurd, {"values": absurd}
        where = f"{self.venue}:{self.symbol} {self.interval} {iso(bar['open_time'])}"
        rejection = Rejection(check, f"{where}: {why}")
        if self._open(check, bar["open_time"], CRITICAL):
            out.append(
                self._finding(
                    bar,
                    check,
                    CRITICAL,
                    f"{why}; bar dropped",
                    bar["open_time"],
                    bar["open_time"],
                    **evidence,
                )
            )
        return rejection

    def _ohlc(
        self,
        bar: Mapping[str, Any],
        values: tuple[float, ...],
        flags: list[str],
        out: list[Finding],
    ) -> None:
        o, h, lo, c, _v = values
        if h >= max(o, c, lo) and lo <= min(o, c):
            self._close("ohlc_inconsistent")
            return
        flags.append("ohlc_inconsistent")
        if self._open("ohlc_inconsistent", bar["open_time"], WARNING):
            out.append(
                self._finding(
                    bar,
                    "ohlc_inconsistent",
                    WARNING,
                    f"high/low do not bound open/close (o={o} h={h} l={lo} c={c})",
                    bar["open_time"],
                    bar["open_time"],
                    open=num(o),
                    high=num(h),
                    low=num(lo),
                    close=num(c),
                )
            )

    def _zero_volume(
        self,
        bar: Mapping[str, Any],
        values: tuple[float, ...],
        flags: list[str],
        out: list[Finding],
    ) -> None:
        """Zero-volume runs: illiquid minutes whose price is carried forward."""
        st = self.state
        if values[4] == 0:
            flags.append("zero_volume")
            if st.zero_run == 0:
                st.zero_run_start = bar["open_time"]
            st.zero_run += 1
            if self.state.last_close is not None and values[3] == self.state.last_close:
                st.zero_run_carried += 1
            return
        if st.zero_run >= self.cfg.zero_volume_run_bars and st.zero_run_start is not None:
            st.zero_runs += 1
        handling = self.cfg.zero_volume
        if (
            handling != "ignore"
            and st.zero_run >= self.cfg.zero_volume_run_bars
            and st.zero_run_start is not None
        ):
            end = bar["open_time"] - self.step
            out.append(
                self._finding(
                    bar,
                    "zero_volume_run",
                    WARNING if handling == "warn" else INFO,
                    f"{st.zero_run} bars without volume from {iso(st.zero_run_start)}"
                    f" ({st.zero_run_carried} with the price carried forward): illiquid",
                    st.zero_run_start,
                    end,
                    bars=str(st.zero_run),
                    carried_forward=str(st.zero_run_carried),
                    duration_ms=str(end - st.zero_run_start + self.step),
                )
            )
        st.zero_run, st.zero_run_start, st.zero_run_carried = 0, None, 0

    def _outlier(
        self,
        bar: Mapping[str, Any],
        values: tuple[float, ...],
        flags: list[str],
        out: list[Finding],
    ) -> None:
        """Returns far beyond recent volatility; a spike is one episode, a new level is accepted."""
        close = values[3]
        ref = self._ref_close
        if ref is None:
            self._ref_close = close
            return
        r = math.log(close / ref)
        vol = self._vol.value
        cfg = self.cfg
        is_out = (
            vol is not None
            and abs(r) > float(cfg.outlier_sigma) * vol
            and abs(r) * 1e4 > float(cfg.outlier_min_return_bps)
        )
        if not is_out:
            self._ref_close = close
            self._outliers_in_row = 0
            self._close("outlier")
            if values[4] != 0 or "close_only" in flags:  # no trade, no information
                self._vol.update(r)
            return
        assert vol is not None
        flags.append("outlier")
        sigmas = abs(r) / vol if vol > 0 else math.inf
        critical = sigmas > float(cfg.outlier_critical_sigma) and abs(r) * 1e4 > float(
            cfg.outlier_critical_min_return_bps
        )
        sev = CRITICAL if critical else WARNING
        if self._open("outlier", bar["open_time"], sev):
            out.append(
                self._finding(
                    bar,
                    "outlier",
                    sev,
                    f"return {r * 1e4:+.0f} bps is {sigmas:.1f} sigma of recent volatility",
                    bar["open_time"],
                    bar["open_time"],
                    return_bps=num(r * 1e4),
                    sigmas=num(sigmas),
                    vol_bps=num(vol * 1e4),
                    reference_close=num(ref, 12),
                    close=num(close, 12),
                )
            )
        self._outliers_in_row += 1
        if self._outliers_in_row >= cfg.outlier_confirm_bars:
            # the market really moved: take the new level, keep volatility honest
            self._ref_close = close
            self._outliers_in_row = 0
            self._vol.update(r)

    def _adj_close(self, bar: Mapping[str, Any], flags: list[str], out: list[Finding]) -> None:
        """End-of-day adjusted-close coverage, once the stream has shown it has one."""
        if self.interval != "1d":
            return
        if bar.get("adj_close") is not None:
            self.state.adj_close_seen += 1
            self._close("adj_close_missing")
            return
        if not self.state.adj_close_seen:
            return
        flags.append("adj_close_missing")
        if self._open("adj_close_missing", bar["open_time"], WARNING):
            out.append(
                self._finding(
                    bar,
                    "adj_close_missing",
                    WARNING,
                    f"no adjusted close on {iso(bar['open_time'])[:10]} (splits/dividends unknown)",
                    bar["open_time"],
                    bar["open_time"],
                )
            )

    def freshness(self) -> dict[str, Any]:
        """Per-stream state risk reads to fail closed (kept in a Faust table by the agent)."""
        st = self.state
        return {
            "interval": self.interval,
            "last_open_time": st.last_open,
            "last_bar_close": st.last_close_time,
            "last_ingest": st.last_ingest,
            "last_close": st.last_close,
            "bars": st.bars,
            "flagged": st.flagged,
            "stale": st.stale_open,
            "zero_volume_run": st.zero_run,
            "gap_runs": st.gap_runs,
            "missing": st.missing,
            "critical": sorted(st.critical),
        }
