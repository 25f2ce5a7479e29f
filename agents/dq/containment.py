"""Containment: values and timestamps that cannot be real are rejected with a reason.

Pure, no I/O. The bar gate (``agents.dq.stream``), the quote gate (``QuoteGate``
below) and the strategy runner share these checks. A rejected message never
moves its stream's state on (progress, price reference), so one bad message
cannot poison the messages after it; a stream that really jumps (a feed back
after a long outage, a split) is recognised by a run of consistent messages
and accepted, with a finding, instead of being rejected forever.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.config import DataQuality
from streams.decimals import unrepresentable

# rejection reasons (dead-letter ``error`` starts with one of these, then ": " and the detail)
FUTURE_TIMESTAMP = "future_timestamp"
BAD_VALUE = "bad_value"
UNREPRESENTABLE_VALUE = "unrepresentable_value"
ABSURD_VALUE = "absurd_value"
UNKNOWN_INSTRUMENT = "unknown_instrument"
CROSSED_QUOTE = "crossed_quote"
PRICE_LEVEL = "price_level"  # quality flag of the bar that confirmed a new price level
REASONS = (
    FUTURE_TIMESTAMP,
    BAD_VALUE,
    UNREPRESENTABLE_VALUE,
    ABSURD_VALUE,
    UNKNOWN_INSTRUMENT,
    CROSSED_QUOTE,
)


@dataclass(frozen=True)
class Rejection:
    """Why a message was kept out: a reason name (``REASONS``) and a one-line detail."""

    reason: str
    detail: str

    def line(self) -> str:
        return f"{self.reason}: {self.detail}"


def bad_values(values: Mapping[str, Any], prices: Sequence[str]) -> list[str]:
    """``name=value`` of each value that is not a finite number, or a price <= 0, or a
    negative size/volume (any other name). Never raises."""
    bad = []
    for k, v in values.items():
        try:
            x = float(v)
        except (TypeError, ValueError):
            bad.append(f"{k}={v!r}")
            continue
        if not math.isfinite(x) or (x <= 0 if k in prices else x < 0):
            bad.append(f"{k}={v}")
    return bad


def unrepresentable_values(values: Mapping[str, Any], prices: Sequence[str]) -> list[str]:
    """``name: why`` of each value that does not fit the wire's ``decimal(38, 18)``."""
    out = []
    for k, v in values.items():
        why = unrepresentable(v, positive=k in prices)
        if why is not None:
            out.append(f"{k} {why}")
    return out


class LeadGuard:
    """Time containment of one stream: a message far ahead of the last accepted one is
    rejected, unless ``confirm`` of them in a row, each following the last, show the
    stream really moved on."""

    def __init__(self, confirm: int) -> None:
        self.confirm = confirm
        self._run: tuple[int, int] | None = None  # (time of the last far-ahead one, count)

    def judge(self, t: int, last: int | None, bound: int) -> str | None:
        """None: accept (``t`` is near ``last``, or a confirmed jump); else the detail."""
        if last is None or t - last <= bound:
            self._run = None
            return None
        run = self._run
        count = run[1] + 1 if run is not None and run[0] < t <= run[0] + bound else 1
        if count >= self.confirm:
            self._run = None
            return None
        self._run = (t, count)
        return f"{t - last} ms ahead of the stream's last accepted one (bound {bound} ms)"


def ahead_of_clock(ts_event: int, ts_ingest: int, bound: int) -> str | None:
    """The detail when an event claims a time beyond its own ingest time by more than
    ``bound`` (0: off)."""
    if bound and ts_event - ts_ingest > bound:
        lead = ts_event - ts_ingest
        return f"ts_event {ts_event} is {lead} ms after its ts_ingest (bound {bound} ms)"
    return None


class PriceGuard:
    """Price containment of one stream: prices beyond ``ratio`` x (or 1/``ratio``) of the
    median of the last accepted reference prices are absurd; ``confirm`` absurd ones in a
    row, within ``ratio`` of each other, are a new level (a split, a real crash)."""

    def __init__(self, ratio: float, window: int, confirm: int) -> None:
        self.ratio, self.confirm = ratio, confirm
        self._recent: deque[float] = deque(maxlen=window)
        self._run: list[float] = []
        self._ref: float | None = None  # cached median of _recent

    @property
    def reference(self) -> float | None:
        return _median(self._recent) if self._recent else None

    def judge(self, prices: Mapping[str, float], level: float) -> tuple[str | None, bool]:
        """(detail if absurd, else None; True when this accepts a new level). ``level`` is the
        message's reference price (a bar's close, a quote's mid)."""
        if not self._recent:  # the first message of a stream: only the hard checks apply
            return None, False
        if self._ref is None:
            self._ref = _median(self._recent)
        ref, ratio = self._ref, self.ratio
        lo, hi = ref / ratio, ref * ratio
        if lo <= min(prices.values()) and max(prices.values()) <= hi:  # finite values only
            if self._run:
                self._run = []
            return None, False
        far = {k: v for k, v in prices.items() if not lo <= v <= hi}
        run = [*self._run, level]
        if max(run) / min(run) > self.ratio:  # not a consistent new level: start again
            run = [level]
        if len(run) >= self.confirm:
            self._run = []
            self._recent.clear()
            self._ref = None
            return None, True
        self._run = run
        shown = ", ".join(f"{k}={v:.6g}" for k, v in far.items())
        return (
            f"{shown} beyond {self.ratio:g}x of the reference {ref:.6g}"
            f" (median of the last {len(self._recent)} accepted)",
            False,
        )

    def accept(self, level: float) -> None:
        self._recent.append(level)
        self._ref = None

    def reset(self) -> None:
        """Forget the reference (a new level was confirmed upstream)."""
        self._recent.clear()
        self._run = []
        self._ref = None


def _median(xs: deque[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


QUOTE_PRICES = ("bid", "ask")


class QuoteGate:
    """Quotes validated like bars before they are published or used: identity in the
    universe, finite positive prices and sizes that fit the wire's decimals, not crossed,
    not absurd against the stream's recent mids, not far in the future."""

    def __init__(self, cfg: DataQuality, known: Callable[[str, str], bool] | None = None) -> None:
        self.cfg = cfg
        self.known = known
        self._last: dict[tuple[str, str], int] = {}
        self._lead: dict[tuple[str, str], LeadGuard] = {}
        self._price: dict[tuple[str, str], PriceGuard] = {}

    @classmethod
    def from_config(cls, config: Any) -> QuoteGate:
        return cls(config.data_quality, config.known_stream)

    def check(self, quote: Mapping[str, Any]) -> Rejection | None:
        """None: the quote may be used (the stream's state moved on); else why not."""
        venue, symbol = quote.get("venue"), quote.get("symbol")
        if not venue or not symbol:
            return Rejection(UNKNOWN_INSTRUMENT, f"quote {quote.get('event_id')}: no venue/symbol")
        stream = f"{venue}:{symbol}"
        if self.known is not None and not self.known(venue, symbol):
            return Rejection(UNKNOWN_INSTRUMENT, f"{stream} is not in the desk's universe")
        values = {k: quote.get(k) for k in ("bid", "ask", "bid_size", "ask_size")}
        bad = bad_values(values, QUOTE_PRICES)
        if bad:
            return Rejection(BAD_VALUE, f"{stream}: {', '.join(bad)}")
        wide = unrepresentable_values(values, QUOTE_PRICES)
        if wide:
            return Rejection(UNREPRESENTABLE_VALUE, f"{stream}: {'; '.join(wide)}")
        bid, ask = float(quote["bid"]), float(quote["ask"])
        if bid > ask:
            return Rejection(CROSSED_QUOTE, f"{stream}: bid {bid} > ask {ask}")
        cfg, key, t = self.cfg, (venue, symbol), int(quote["ts_event"])
        clock = ahead_of_clock(t, int(quote["ts_ingest"]), cfg.max_future_ms)
        if clock is not None:
            return Rejection(FUTURE_TIMESTAMP, f"{stream}: {clock}")
        lead = self._lead.setdefault(key, LeadGuard(cfg.future_confirm_bars))
        ahead = lead.judge(t, self._last.get(key), cfg.max_lead_ms)
        if ahead is not None:
            return Rejection(FUTURE_TIMESTAMP, f"{stream}: quote {ahead}")
        guard = self._price.get(key)
        if guard is None:
            guard = self._price[key] = PriceGuard(
                float(cfg.max_price_ratio), cfg.price_reference_bars, cfg.absurd_confirm_bars
            )
        mid = (bid + ask) / 2
        absurd, _new_level = guard.judge({"bid": bid, "ask": ask}, mid)
        if absurd is not None:
            return Rejection(ABSURD_VALUE, f"{stream}: {absurd}")
        guard.accept(mid)
        self._last[key] = max(t, self._last.get(key, t))
        return None
