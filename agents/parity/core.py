"""Parity, pure: the same orders through the paper fill model (the shadow), against what
the venue really did, per bot and window of event time.

Metrics per bot and window (orders by the time they were sent):

* ``fill_ratio``: filled / submitted quantity;
* ``slippage_bps``: notional-weighted, against the order's reference price (its limit,
  else the last clean close when it was sent), positive = paid;
* ``reject_rate``: rejected / submitted orders;
* ``fill_latency_ms``: median, command to first fill;
* ``pnl_bps``: the window's trading PnL (cash flows, fees, the position marked at the
  window's last close) in bps of the expected notional.

Each is compared in the direction that matters: a WARNING when the shadow looks
better than reality by more than its threshold (fills more, pays less, is rejected
less, fills sooner, earns more). Reality looking better than the model is not a
warning: the model is meant to be conservative.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agents.paper_venue.desk import PaperDesk
from agents.quotes.core import SyntheticQuoter
from streams.config import DeskConfig, Parity, VenueConfig
from streams.envelope import envelope
from streams.ids import event_id

SOURCE = "agent.parity"
ZERO = Decimal(0)
Event = dict[str, Any]


def shadow_config(config: DeskConfig) -> DeskConfig:
    """The desk config with the parity overrides applied to every paper venue's fill model."""
    if not config.parity.shadow:
        return config
    names = {b.venue for b in config.bots} | set(config.venues)
    venues = {
        n: VenueConfig.model_validate(config.venue(n).model_dump() | config.parity.shadow)
        for n in names
    }
    return config.model_copy(update={"venues": venues})


class Marks:
    """The last clean close of each stream at or before a time."""

    def __init__(self, bars: Iterable[Mapping[str, Any]]) -> None:
        by: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        for b in bars:
            by[(b["venue"], b["symbol"])].append((int(b["ts_event"]), float(b["close"])))
        self._ts = {k: [t for t, _ in sorted(v)] for k, v in by.items()}
        self._px = {k: [p for _, p in sorted(v)] for k, v in by.items()}

    def at(self, venue: str, symbol: str, ts: int) -> float | None:
        ts_list = self._ts.get((venue, symbol))
        if not ts_list:
            return None
        i = bisect_right(ts_list, ts) - 1
        return self._px[(venue, symbol)][i] if i >= 0 else None


def shadow_run(
    config: DeskConfig, commands: Iterable[Event], bars: Iterable[Event]
) -> tuple[list[Event], list[Event]]:
    """The shadow venue's order events and fills for these commands and bars, in event-time
    order (a command goes before the bars that close after it)."""
    venues = PaperDesk(shadow_config(config))
    quoter = SyntheticQuoter(config.market_data)  # the quotes the venue agent uses
    todo = sorted(commands, key=lambda c: c["ts_event"])
    events: list[Event] = []
    i = 0
    for bar in sorted(bars, key=lambda b: (b["ts_event"], b["venue"], b["symbol"])):
        while i < len(todo) and todo[i]["ts_event"] < bar["ts_event"]:
            events += [e for _t, _k, e in venues.on_command(todo[i])]
            i += 1
        events += [e for _t, _k, e in venues.on_bar(bar, quoter.quote(bar))]
    for c in todo[i:]:
        events += [e for _t, _k, e in venues.on_command(c)]
    fills = [e for e in events if "trade_id" in e]
    return [e for e in events if "status" in e], fills


@dataclass
class Stats:
    submitted: Decimal = ZERO
    filled: Decimal = ZERO
    orders: int = 0
    rejects: int = 0
    latencies: list[int] = field(default_factory=list)
    slip_num: Decimal = ZERO
    notional: Decimal = ZERO
    cash: Decimal = ZERO
    position: dict[tuple[str, str], Decimal] = field(default_factory=dict)


def window_of(ts: int, minutes: int) -> int:
    size = minutes * 60_000
    return ts // size * size


def stats(
    commands: Iterable[Event], order_events: Iterable[Event], fills: Iterable[Event],
    marks: Marks, minutes: int,
) -> dict[tuple[str, int], Stats]:  # fmt: skip
    """Per (bot, window start): what these orders got, windows by when they were sent."""
    sent = {c["client_order_id"]: c for c in commands if c["command"] == "SUBMIT"}
    out: dict[tuple[str, int], Stats] = defaultdict(Stats)
    for c in sent.values():
        st = out[(c["bot_id"], window_of(int(c["ts_event"]), minutes))]
        st.submitted += Decimal(c["quantity"])
        st.orders += 1
    for e in order_events:
        c = sent.get(e["client_order_id"])
        if c is not None and e["status"] == "REJECTED":
            out[(c["bot_id"], window_of(int(c["ts_event"]), minutes))].rejects += 1
    first: dict[str, int] = {}
    for f in fills:
        c = sent.get(f["client_order_id"])
        if c is None:
            continue
        st = out[(c["bot_id"], window_of(int(c["ts_event"]), minutes))]
        qty, price = Decimal(f["quantity"]), Decimal(f["price"])
        sign = 1 if f["side"] == "BUY" else -1
        st.filled += qty
        st.notional += qty * price
        st.cash += -sign * qty * price - Decimal(f["fee"])
        key = (f["venue"], f["symbol"])
        st.position[key] = st.position.get(key, ZERO) + sign * qty
        ref = c["limit_price"]
        if ref is None:
            mark = marks.at(c["venue"], c["symbol"], int(c["ts_event"]))
            ref = None if mark is None else Decimal(str(mark))
        if ref:
            st.slip_num += sign * (price - Decimal(ref)) / Decimal(ref) * qty * price
        first[f["client_order_id"]] = min(first.get(f["client_order_id"], 1 << 62),
                                          int(f["ts_event"]))  # fmt: skip
    for cid, ts in first.items():
        c = sent[cid]
        out[(c["bot_id"], window_of(int(c["ts_event"]), minutes))].latencies.append(
            ts - int(c["ts_event"])
        )
    return dict(out)


def _metric(name: str, expected: float | None, realized: float | None, threshold: float,
            worse: float | None) -> dict[str, Any]:  # fmt: skip
    """``worse``: how much worse reality is than the model, in the metric's units."""
    warn = worse is not None and worse > threshold
    delta = None if expected is None or realized is None else realized - expected
    return {"name": name, "expected": expected, "realized": realized, "delta": delta,
            "threshold": threshold, "status": "WARNING" if warn else "OK"}  # fmt: skip


def compare(
    bot: str, start: int, exp: Stats, real: Stats, cfg: Parity, marks: Marks, end: int
) -> Event:
    """The ParityReport of one bot and window."""

    def ratio(a: Decimal, b: Decimal) -> float | None:
        return float(a / b) if b else None

    def pnl_bps(st: Stats) -> float | None:
        value = st.cash
        for (venue, symbol), q in st.position.items():
            mark = marks.at(venue, symbol, end)
            value += q * Decimal(str(mark or 0))
        return float(value / exp.notional * 10_000) if exp.notional else None

    def median(xs: list[int]) -> float | None:
        return float(statistics.median(xs)) if xs else None

    fe, fr = ratio(exp.filled, exp.submitted), ratio(real.filled, real.submitted)
    se, sr = ratio(exp.slip_num * 10_000, exp.notional), ratio(real.slip_num * 10_000,
                                                               real.notional)  # fmt: skip
    re_, rr = (exp.rejects / exp.orders if exp.orders else None,
               real.rejects / real.orders if real.orders else None)  # fmt: skip
    le, lr = median(exp.latencies), median(real.latencies)
    pe, pr = pnl_bps(exp), pnl_bps(real)

    def gap(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a - b

    lat_worse = None if not le or lr is None else lr / le
    metrics = [
        _metric("fill_ratio", fe, fr, float(cfg.fill_ratio_gap), gap(fe, fr)),
        _metric("slippage_bps", se, sr, float(cfg.slippage_gap_bps), gap(sr, se)),
        _metric("reject_rate", re_, rr, float(cfg.reject_rate_gap), gap(rr, re_)),
        _metric("fill_latency_ms", le, lr, float(cfg.latency_ratio), lat_worse),
        _metric("pnl_bps", pe, pr, float(cfg.pnl_gap_bps), gap(pe, pr)),
    ]
    status = "WARNING" if any(m["status"] == "WARNING" for m in metrics) else "OK"
    return {
        **envelope(event_id("parity", bot, start, cfg.version), end, SOURCE),
        "bot_id": bot, "window_start": start, "window_end": end,
        "thresholds_version": cfg.version, "status": status, "metrics": metrics,
    }  # fmt: skip


def parity_reports(
    config: DeskConfig, commands: list[Event], order_events: list[Event], fills: list[Event],
    bars: list[Event],
) -> list[Event]:  # fmt: skip
    """Every bot and window with orders: the shadow against the realized events."""
    cfg = config.parity
    marks = Marks(bars)
    shadow_events, shadow_fills = shadow_run(config, commands, bars)
    expected = stats(commands, shadow_events, shadow_fills, marks, cfg.window_minutes)
    realized = stats(commands, order_events, fills, marks, cfg.window_minutes)
    size = cfg.window_minutes * 60_000
    return [
        compare(
            bot,
            start,
            expected[(bot, start)],
            realized.get((bot, start), Stats()),
            cfg,
            marks,
            start + size,
        )
        for bot, start in sorted(expected)
    ]
