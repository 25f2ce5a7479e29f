"""The third reference strategy, written only against the adapter API: basis reversion of a
stream against a reference stream (``references``), through the real strategy runner and,
on the shared bars, through the desk graph."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from agents.strategies.base import BotView, build
from agents.strategies.runner import STRATEGY_ERROR, StrategyRunner
from streams.config import load_config

REFERENCE_CONFIG = Path(__file__).resolve().parents[2] / "streams" / "desk.reference.yaml"
CRYPTO = Path(__file__).resolve().parents[3] / "shared" / "data" / "crypto_1m"
T0 = 1_678_000_000_000


def bar(symbol: str, n: int, close: float) -> dict:
    ts = T0 + n * 60_000
    prices = dict.fromkeys(("open", "high", "low", "close"), close)
    return {"event_id": f"{symbol}-{n}", "ts_event": ts, "ts_ingest": T0, "source": "t",
            "correlation_id": None, "venue": "binanceus", "symbol": symbol, "interval": "1m",
            "open_time": ts - 60_000, **prices, "volume": 1.0, "quality_flags": []}  # fmt: skip


def view(symbol: str, position: str = "0") -> BotView:
    return BotView("b", "binanceus", symbol, Decimal(position), Decimal(100_000))


def test_buys_when_the_stream_is_cheap_against_its_reference_and_sells_when_it_closes() -> None:
    s = build("basis_reversion", {"window": 20, "entry_z": 2, "min_edge_bps": "20",
                                  "order_notional": "1000"})  # fmt: skip
    assert s.side == "long_only" and s.references == ("binanceus:BTC/USD",)
    got = []
    for n in range(40):  # the basis wobbles ±2 bps around 0
        assert s.on_bar(bar("BTC/USD", n, 20_000.0), view("BTC/USD")) == []
        got += s.on_bar(bar("BTC/USDT", n, 20_000.0 * (1 + (-1) ** n * 0.0002)), view("BTC/USDT"))
    assert got == []  # nothing unusual
    s.on_bar(bar("BTC/USD", 40, 20_000.0), view("BTC/USD"))
    (buy,) = s.on_bar(bar("BTC/USDT", 40, 19_900.0), view("BTC/USDT"))  # -50 bps
    assert (buy["side"], buy["order_type"], buy["quantity"]) == ("BUY", "MARKET", Decimal("0.0502"))
    assert buy["reason"].startswith("cheap: basis -50.00 bps")
    for n in range(41, 44):  # still cheap, but held: no second buy
        s.on_bar(bar("BTC/USD", n, 20_000.0), view("BTC/USD"))
        assert s.on_bar(bar("BTC/USDT", n, 19_900.0), view("BTC/USDT", "0.0502")) == []
    s.on_bar(bar("BTC/USD", 44, 20_000.0), view("BTC/USD"))
    (sell,) = s.on_bar(bar("BTC/USDT", 44, 20_001.0), view("BTC/USDT", "0.0502"))
    assert (sell["side"], sell["quantity"], sell["reduce_only"]) == (
        "SELL",
        Decimal("0.0502"),
        True,
    )


def test_a_stale_reference_is_no_signal() -> None:
    s = build("basis_reversion", {"window": 5, "max_reference_age_s": 120})
    s.on_bar(bar("BTC/USD", 0, 20_000.0), view("BTC/USD"))
    for n in range(1, 30):  # the reference stopped at bar 0: its price is not used
        assert (
            s.on_bar(bar("BTC/USDT", n, 10_000.0 if n > 20 else 20_000.0), view("BTC/USDT")) == []
        )
    assert s.seen == 2  # bars 1 and 2 were within two minutes of the reference


def test_bad_params_are_one_line() -> None:
    with pytest.raises(ValueError, match="venue:symbol"):
        build("basis_reversion", {"reference": "BTC/USD"})
    with pytest.raises(ValueError, match="exit_z <= entry_z"):
        build("basis_reversion", {"entry_z": 1, "exit_z": 2})


def test_the_runner_hands_reference_bars_over_and_sets_aside_orders_on_them() -> None:
    runner = StrategyRunner(load_config(REFERENCE_CONFIG))
    assert runner.readers[("binanceus", "BTC/USD")] == [("basis-btc", "binanceus", "BTC/USDT")]
    s = runner.instances[("binanceus", "BTC/USDT", "basis-btc")]
    runner.on_bar(bar("BTC/USD", 1, 20_000.0), lambda _b: None)
    assert s.ref == (T0 + 60_000, 20_000.0)

    def rogue(b: dict, v: BotView) -> list[dict]:  # a strategy that orders on its reference
        return [{"symbol": v.symbol}]

    s.on_bar = rogue  # type: ignore[method-assign]
    out = runner.on_bar(bar("BTC/USD", 2, 20_000.0), lambda _b: None)
    assert all(i.get("bot_id") == "trend-btc" for i in out)  # only the trend bot's own
    (skipped,) = runner.drain_skipped()
    assert skipped[0] == "processing" and skipped[1].startswith(STRATEGY_ERROR)
    assert "ordered on its reference binanceus:BTC/USD" in skipped[1]


@pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present")
def test_basis_trades_the_usdc_depeg_weekend_in_the_desk_graph() -> None:
    """Over the de-peg (BTC/USDT moved against BTC/USD as USDC fell), through data quality,
    risk and the paper venue: the basis bot buys and sells, and every order risk let through
    was its own signal (no engine change: the config adds the bot)."""
    from analytics.backtest.run import run_backtest
    from connectors.feeds.files import ReadOptions, parse_when, read_files

    opts = ReadOptions(since=parse_when("2023-03-10"), until=parse_when("2023-03-13"))
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv")), opts).bars
    run = run_backtest(load_config(REFERENCE_CONFIG), bars)
    fills = [f for f in run.out.topic("fills") if f["bot_id"] == "basis-btc"]
    assert {f["side"] for f in fills} == {"BUY", "SELL"}
    intents = [i for i in run.out.topic("orders.intents") if i["bot_id"] == "basis-btc"]
    assert intents and all(i["reason"].startswith(("cheap:", "closed:")) for i in intents)
    assert run.metrics["bots"]["basis-btc"]["trades"] >= 1
