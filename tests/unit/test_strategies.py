"""Strategy adapters on real bars: registry, determinism, sizing, valid intents."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import pytest

from agents.strategies.base import BotView, build, quantize_down
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
