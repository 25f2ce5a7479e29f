"""Regime scenarios on the shared data, through the desk graph (``desk backtest``'s core):
each asserts what a desk expects of that market, not only that the run finished.

* a normal March 2023 stretch: both reference bots trade, no gate fires, no limit breaks;
* the USDC de-peg: the cross-market data-quality gate fires CRITICAL on BTC/USDC, limits hold;
* the 2020 crash (SPY, QQQ daily, a fully invested trend desk): portfolio risk's loss limits
  fire in the shock, the KILL flattens (``flatten_on_kill``), and after it nothing is at
  risk; without the flatten the same desk rides the crash to more than twice the drawdown;
* the 2021 bull: the long-only trend bot makes money on SPY, no breach;
* the 2022 bear (close-only ETF history): the trend bot loses far less than holding SPY.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from analytics.backtest.run import Run, backtest_config, run_backtest
from connectors.feeds.files import ReadOptions, parse_when, read_files
from streams.config import DeskConfig, load_config, parse_config

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CRYPTO, ETF = DATA / "crypto_1m", DATA / "etf_daily"
OHLCV = [ETF / "SPY_ohlcv_2017-01-03_2021-06-04.csv", ETF / "QQQ_ohlcv_2017-01-03_2021-06-04.csv"]
WIDE = ETF / "adjclose_35etf_btc_1993-01-29_2023-05-18.csv"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not DATA.exists(), reason="../shared/data not present"),
]


def bars(paths: Iterable[Path], since: str, until: str, symbols: tuple[str, ...] | None = None):
    opts = ReadOptions(since=parse_when(since), until=parse_when(until), symbols=symbols)
    return read_files(list(paths), opts).bars


def day(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%d")


def limits_held(run: Run) -> None:
    """Every approval passed every check (re-measured where it is a number against a cap),
    and no position was ever bigger than its bot's max position notional after a fill."""
    approvals = [d for d in run.out.topic("risk.decisions") if d["decision"] == "APPROVE"]
    for d in approvals:
        for c in d["checks"]:
            assert c["passed"], (d["bot_id"], c)
            if c["name"].startswith("max_") and c["value"] and c["limit"]:
                try:
                    value, cap = Decimal(c["value"]), Decimal(c["limit"])
                except ArithmeticError:
                    continue
                assert value <= cap, (d["bot_id"], c)
    held: dict[tuple[str, str], Decimal] = {}
    for f in run.out.topic("fills"):
        key = (f["bot_id"], f["symbol"])
        held[key] = held.get(key, Decimal(0)) + f["quantity"] * (1 if f["side"] == "BUY" else -1)
        cap = run.config.limits_for(f["bot_id"]).max_position_notional
        if cap is not None:
            assert abs(held[key]) * f["price"] <= cap, (key, held[key], f["price"])


def breaches(run: Run) -> list[tuple[str, str]]:
    return [(day(c["ts_event"]), c["command"]) for c in run.out.topic("risk.commands")]


def criticals(run: Run, check: str | None = None) -> list[dict[str, Any]]:
    return [r for r in run.out.topic("dq.reports")
            if r["severity"] == "CRITICAL" and (check is None or r["check"] == check)]  # fmt: skip


def test_a_normal_march_stretch_trades_quietly() -> None:
    run = run_backtest(
        load_config(), bars(sorted(CRYPTO.glob("*.csv")), "2023-03-15", "2023-03-17")
    )
    assert criticals(run) == [] and breaches(run) == []
    limits_held(run)
    for bot in ("trend-btc", "mm-btc"):
        m = run.metrics["bots"][bot]
        assert m["fills"] > 0, bot
        assert m["max_drawdown"] < 0.05, (bot, m["max_drawdown"])  # under the desk's warning


def test_the_usdc_depeg_trips_the_cross_market_gate_and_limits_hold() -> None:
    run = run_backtest(load_config(), bars(sorted(CRYPTO.glob("*.csv")), "2023-03-10T12:00",
                                           "2023-03-12"))  # fmt: skip
    depeg = criticals(run, "cross_market_divergence")
    assert depeg and {r["symbol"] for r in depeg} == {"BTC/USDC"}
    assert all(day(r["ts_event"]) in ("2023-03-10", "2023-03-11") for r in depeg)
    limits_held(run)
    assert run.metrics["bots"]["mm-btc"]["fills"] > 0  # BTC/USDT trades on through it


def etf_desk(flatten: bool) -> DeskConfig:
    """Two trend bots on SPY and QQQ, up to 90% invested, under the packaged desk's limits."""
    data = load_config().model_dump(mode="json", exclude_none=True)
    data["universe"] += [{"venue": "yahoo", "symbol": s, "asset_class": "etf",
                          "quote_currency": "USD"} for s in ("SPY", "QQQ")]  # fmt: skip
    data["strategies"]["trend_etf"] = {"kind": "trend_ema", "params": {
        "fast": 10, "slow": 40, "risk_per_trade": "0.05", "max_leverage": "0.9"}}  # fmt: skip
    limits = {"max_order_notional": "100000"}
    data["bots"] = [{"id": f"trend-{s.lower()}", "strategy": "trend_etf", "venue": "yahoo",
                     "symbols": [s], "fee_profile": "paper_default", "starting_cash": "100000",
                     "limits": limits} for s in ("SPY", "QQQ")]  # fmt: skip
    data["portfolio_risk"]["flatten_on_kill"] = flatten
    data["alert_routes"] = []
    return parse_config(data)


def test_the_2020_crash_fires_the_loss_limits_and_the_kill_flattens() -> None:
    window = bars(OHLCV, "2019-10-01", "2020-06-01")
    run = run_backtest(etf_desk(flatten=True), window)
    fired = breaches(run)
    assert ("2020-02-25", "HALT") in fired  # the day's loss
    kill = next(c for c in run.out.topic("risk.commands") if c["command"] == "KILL")
    assert "2020-02-24" <= day(kill["ts_event"]) <= "2020-03-23" and kill["flatten"]
    fills = run.out.topic("fills")
    closing = [f for f in fills if f["ts_event"] > kill["ts_event"]]
    assert {f["side"] for f in closing} == {"SELL"} and len(closing) == 2  # one per position
    flat_at = max(f["ts_event"] for f in closing)
    after = [s for s in run.states if s.ts_event > flat_at]
    assert after and all(Decimal(p["quantity"]) == 0 for s in after for p in s.positions)
    for bot in ("trend-spy", "trend-qqq"):  # nothing at risk: equity stands still
        assert len({s.equity for s in after if s.bot_id == bot}) == 1
    limits_held(run)
    riding = run_backtest(etf_desk(flatten=False), window)  # the same desk, kill without flatten
    dd, dd_riding = run.metrics["total"]["max_drawdown"], riding.metrics["total"]["max_drawdown"]
    assert dd < 0.13 and dd_riding > 2 * dd, (dd, dd_riding)


def test_the_2021_bull_pays_the_long_only_trend_bot() -> None:
    run = run_backtest(etf_desk(flatten=True), bars(OHLCV, "2020-10-01", "2021-06-05"))
    assert breaches(run) == []
    assert Decimal(run.metrics["bots"]["trend-spy"]["net_profit"]) > 0
    assert run.metrics["bots"]["trend-spy"]["exposure_time"] > 0.5
    limits_held(run)


def test_the_2022_bear_costs_the_trend_bot_far_less_than_holding() -> None:
    window = bars([WIDE], "2021-10-01", "2023-01-01", ("SPY", "QQQ"))
    streams = [("yahoo", "SPY"), ("yahoo", "QQQ")]
    cfg = backtest_config(etf_desk(flatten=True), streams, market_fill="next_open")  # close only
    run = run_backtest(cfg, window)
    spy = [b["close"] for b in window if b["symbol"] == "SPY"]
    hold = spy[-1] / spy[0] - 1
    assert hold < -0.1  # it was a bear market
    got = run.metrics["bots"]["trend-spy"]
    assert got["fills"] > 0 and got["return"] > hold / 3, (got["return"], hold)
    assert got["max_drawdown"] < 0.08  # inside the desk's drawdown breach
    limits_held(run)
