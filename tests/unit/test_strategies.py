"""Strategy adapters on real bars: registry, determinism, sizing, valid intents."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from functools import cache
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.strategies.base import BotView, build, quantize_down
from agents.strategies.market_maker import EppMarketMaker
from connectors.feeds.files import read_bars
from streams.avro import registry
from streams.config import load_config
from tests.conftest import SHARED_DATA

USDT = SHARED_DATA / "crypto_1m" / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"
pytestmark = pytest.mark.skipif(not USDT.exists(), reason="../shared/data not present")


@cache
def day() -> tuple[dict, ...]:
    return tuple(read_bars(USDT).bars[:1440])


def drive(strategy, equity: Decimal = Decimal(100_000)) -> tuple[list[dict], Decimal]:
    """Feed a day of bars, filling every intent at once (a stand-in for risk + venue)."""
    position, intents = Decimal(0), []
    for bar in day():
        view = BotView("trend-btc", "binanceus", "BTC/USDT", position, equity)
        for it in strategy.on_bar(bar, view):
            intents.append(it)
            position += it["quantity"] if it["side"] == "BUY" else -it["quantity"]
            assert position * Decimal(repr(bar["close"])) <= equity  # never levered at entry
    return intents, position


def test_configured_strategy_builds_from_the_desk_config() -> None:
    cfg = load_config().strategies["trend_ema"]
    s = build(cfg.kind, cfg.params)
    assert s.kind == "trend_ema"
    with pytest.raises(ValueError, match="unknown strategy kind 'nope'"):
        build("nope", {})
    with pytest.raises(ValueError, match=r"strategy trend_ema: .*unexpected keyword"):
        build("trend_ema", {"fats": 3})
    with pytest.raises(ValueError, match="fast < slow"):
        build("trend_ema", {"fast": 50, "slow": 10})


def test_trend_trades_a_real_day_long_or_flat_with_valid_intents() -> None:
    intents, position = drive(build("trend_ema", {"fast": 12, "slow": 48}))
    assert 2 <= len(intents) < 200  # it trades, but not every minute
    sides = [i["side"] for i in intents]
    assert sides[0] == "BUY" and position >= 0  # spot: never short
    for it in intents:
        registry().encode("OrderIntent", it)  # a valid event, money exact
        assert it["quantity"] > 0 and it["quantity"] == quantize_down(
            it["quantity"], Decimal("0.0001")
        )
        assert it["reason"].startswith("ema12")
    sells = [i for i in intents if i["side"] == "SELL"]
    assert sells and all(i["reduce_only"] for i in sells)


def test_same_bars_same_intents_byte_for_byte() -> None:
    enc = registry().encode
    a, _ = drive(build("trend_ema", {}))
    b, _ = drive(build("trend_ema", {}))
    assert [enc("OrderIntent", i) for i in a] == [enc("OrderIntent", i) for i in b]
    assert len({i["client_order_id"] for i in a}) == len(a)


def test_size_shrinks_when_volatility_grows() -> None:
    s = build("trend_ema", {"fast": 2, "slow": 3, "atr_period": 2, "lot_size": "0.000001",
                            "max_leverage": "100"})  # fmt: skip
    view = BotView("b", "v", "X/USD", Decimal(0), Decimal(100_000))
    calm = [dict(b, high=b["close"] * 1.001, low=b["close"] * 0.999) for b in day()[:5]]
    for bar in calm:
        s.on_bar(bar, view)
    calm_target = s.target(view, calm[-1]["close"])
    wild = dict(calm[-1], high=calm[-1]["close"] * 1.05, low=calm[-1]["close"] * 0.95)
    s.on_bar(wild, view)
    assert calm_target is not None and 0 < s.target(view, wild["close"]) < calm_target


# -- the EPP-style market maker ---------------------------------------------------------------


def mm_view(position: Decimal = Decimal(0), equity: Decimal = Decimal(100_000)) -> BotView:
    return BotView("mm-btc", "binanceus", "BTC/USDT", position, equity)


def warm(mm: EppMarketMaker, bars: tuple[dict, ...] = ()) -> dict:
    for bar in bars or day()[:120]:
        mm.on_bar(bar, mm_view())
    return (bars or day()[:120])[-1]


def test_market_maker_quotes_both_sides_outside_the_cost_floor_on_a_real_day() -> None:
    mm = build("epp_market_maker", {"levels": 2, "maker_fee_bps": "10", "min_edge_bps": "2"})
    quotes = []
    regimes = Counter()
    for bar in day():
        out = mm.on_bar(bar, mm_view())
        new = [i for i in out if i["action"] == "NEW"]
        if not new:
            continue
        regimes[mm.quoted_regime] += 1
        mid = Decimal(repr(bar["close"]))
        least = mm.spread_floor_bps(Decimal(0))  # fee + edge, before the volatility term
        for it in new:
            registry().encode("OrderIntent", it)
            assert it["order_type"] == "POST_ONLY" and it["time_in_force"] == "GTC"
            dist = abs(it["limit_price"] / mid - 1) * 10_000
            assert dist >= least - Decimal("0.01")  # never inside cost + edge (tick rounding)
        quotes.append(new)
        if len(out) > len(new):
            assert out[0]["action"] == "CANCEL_ALL"  # a refresh replaces the whole book
    assert regimes["neutral"] > 0 and len(quotes) < len(day()) // 2  # refreshes, not every bar
    both = [q for q in quotes if {i["side"] for i in q} == {"BUY", "SELL"}]
    # two levels a side, one a side in high volatility
    assert both and {len(q) for q in both} <= {2, 4} and any(len(q) == 4 for q in both)


def test_market_maker_is_one_sided_in_a_strong_trend() -> None:
    mm = EppMarketMaker(trend_atr="3")
    last = warm(mm)
    rally = dict(last, open=last["close"], high=last["close"] * 1.02,
                 low=last["close"], close=last["close"] * 1.02)  # fmt: skip
    assert mm.regime(rally["close"]) == "up"
    plan = mm.plan(rally["close"], mm_view())
    assert plan is not None and {q.side for q in plan.quotes} == {"BUY"}
    dump = dict(rally, close=last["close"] * 0.98)
    assert {q.side for q in mm.plan(dump["close"], mm_view()).quotes} == {"SELL"}


def test_inventory_skew_leans_quotes_toward_the_target_share() -> None:
    mm = EppMarketMaker(target_base_share="0.5", trend_atr="1000")
    close = warm(mm)["close"]
    mid = Decimal(repr(close))
    flat = mm.plan(close, mm_view())
    heavy = mm.plan(close, mm_view(position=Decimal(90_000) / mid))  # 90 % in base
    assert flat.skew_bps < 0 < heavy.skew_bps  # flat wants base: quotes up; heavy: down
    best = {p: {q.side: q.price for q in p.quotes if q.level == 0} for p in (flat, heavy)}
    assert best[heavy]["BUY"] < best[flat]["BUY"] and best[heavy]["SELL"] < best[flat]["SELL"]


def test_market_maker_refreshes_on_a_fill_but_not_on_a_quiet_bar() -> None:
    mm = EppMarketMaker(refresh_bps="5", trend_atr="1000")
    bars = day()[:200]
    warm(mm, bars[:150])
    quiet = bars[150]
    first = mm.on_bar(quiet, mm_view())
    assert first  # quotes out after warm-up (the warm-up quoted at flat position too)
    again = dict(quiet, ts_event=quiet["ts_event"] + 60_000)
    assert mm.on_bar(again, mm_view()) == []  # nothing moved: leave the book alone
    filled = mm.on_bar(dict(again, ts_event=again["ts_event"] + 60_000),
                       mm_view(position=Decimal("0.01")))  # fmt: skip
    assert filled[0]["action"] == "CANCEL_ALL" and len(filled) > 1


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    share=st.decimals(min_value=-2, max_value=3, places=4),
    atr_bps=st.decimals(min_value=0, max_value=500, places=2),
    cap=st.decimals(min_value=0, max_value=100, places=1),
)
def test_spread_floor_and_skew_properties(share: Decimal, atr_bps: Decimal, cap: Decimal) -> None:
    mm = EppMarketMaker(skew_cap_bps=cap, maker_fee_bps="10", min_edge_bps="2")
    assert -cap <= mm.skew_bps(share) <= cap
    floor = mm.spread_floor_bps(atr_bps)
    assert floor >= Decimal(12)  # fee + edge is the least a quote asks
    assert mm.spread_floor_bps(atr_bps + 1) > floor  # more volatility, wider


def test_trend_waits_for_its_order_to_reach_the_books_before_topping_up() -> None:
    """In the stream the view lags the venue: a view stuck at flat must not re-buy every bar."""
    s = build("trend_ema", {"fast": 12, "slow": 48, "settle_bars": 5})
    bars_with_orders = []
    for n, bar in enumerate(day()):
        if s.on_bar(bar, BotView("trend-btc", "binanceus", "BTC/USDT", Decimal(0), Decimal(10**5))):
            bars_with_orders.append(n)
    assert len(bars_with_orders) >= 2
    assert min(b - a for a, b in pairwise(bars_with_orders)) >= 5
