"""The backtest figures (``analytics.backtest.metrics``) against hand-worked cases and against
an independent computation (pandas) on a real run of the shared bars."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from analytics.backtest.metrics import Point, drawdown, trade_pnls
from analytics.backtest.run import backtest_config, run_backtest
from connectors.feeds.files import ReadOptions, parse_when, read_files
from streams.config import load_config

D = Decimal
CRYPTO = Path(__file__).resolve().parents[3] / "shared" / "data" / "crypto_1m"
H = 3_600_000


def fill(side: str, qty: str, price: str, fee: str = "0", sym: str = "X/USD") -> dict:
    return {"symbol": sym, "side": side, "quantity": qty, "price": price, "fee": fee,
            "client_order_id": "c"}  # fmt: skip


def test_trades_are_position_cutting_fills_at_average_cost_with_their_fees() -> None:
    fills = [
        fill("BUY", "1", "100", "1"),  # open 1 @100, fee 1
        fill("BUY", "1", "110", "1"),  # add: 2 @105, fees 2
        fill("SELL", "1", "120", "2"),  # close half: (120-105)*1 - 2 - 1 (half the entry fees)
        fill("SELL", "3", "100", "3"),  # close 1 more: (100-105)*1 - 1 - 1; then short 2 @100
        fill("BUY", "2", "90", "1"),  # cover the short: (100-90)*2 - 1 - 2 (its entry fee share)
    ]
    assert trade_pnls(fills) == [D(12), D(-7), D(17)]
    assert trade_pnls([fill("BUY", "1", "10"), fill("BUY", "1", "20", sym="Y/USD")]) == []


def test_drawdown_and_its_duration() -> None:
    values = [(0, 100), (1, 120), (2, 90), (3, 110), (5, 121), (6, 115)]
    curve = [Point(h * H, D(v), True) for h, v in values]
    dd, dur = drawdown(curve)
    assert dd == pytest.approx(0.25)  # 120 -> 90
    assert dur == 4 * H  # the peak at 1h is passed at 5h
    assert drawdown([Point(0, D(100), False), Point(H, D(50), False)]) == (0.5, H)  # never back
    assert drawdown([]) == (0.0, 0)


@pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present")
def test_figures_equal_an_independent_computation_on_a_real_run() -> None:
    paths = sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))
    opts = ReadOptions(since=parse_when("2023-03-01"), until=parse_when("2023-03-04"))
    bars = read_files(paths, opts).bars
    cfg = backtest_config(load_config(), sorted({(b["venue"], b["symbol"]) for b in bars}))
    run = run_backtest(cfg, bars)
    fills_all = run.out.topic("fills")
    checked = 0
    for bot in (b for b in cfg.bots if b.enabled):
        m = run.metrics["bots"][bot.id]
        st = [s for s in run.states if s.bot_id == bot.id]
        when = pd.to_datetime([s.ts_event for s in st], unit="ms", utc=True)
        eq = pd.Series([float(s.equity) for s in st], index=when)
        fills = [f for f in fills_all if f["bot_id"] == bot.id]
        assert len(fills) > 10, bot.id  # both reference bots trade in these days
        cash = float(bot.starting_cash)
        assert float(m["net_profit"]) == pytest.approx(eq.iloc[-1] - cash, abs=1e-6)
        assert D(m["fees"]) == sum((f["fee"] for f in fills), D(0))
        peak = eq.cummax()
        assert m["max_drawdown"] == pytest.approx(((peak - eq) / peak).max(), rel=1e-9)
        daily = pd.concat([pd.Series([cash]), pd.Series(eq.resample("1D").last().to_numpy())])
        r = daily.pct_change().dropna()
        assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(365), rel=1e-6)
        downside = math.sqrt((r.clip(upper=0) ** 2).mean())
        assert m["sortino"] == pytest.approx(r.mean() / downside * math.sqrt(365), rel=1e-6)
        notional = sum(float(f["price"]) * float(f["quantity"]) for f in fills)
        assert m["turnover"] == pytest.approx(notional / eq.mean(), rel=1e-6)
        exposed = [any(p["quantity"] != 0 for p in s.positions) for s in st]
        assert m["exposure_time"] == pytest.approx(sum(exposed) / len(exposed), rel=1e-9)
        submitted = {c["client_order_id"] for c in run.out.topic("orders.commands")
                     if c["bot_id"] == bot.id and c["command"] == "SUBMIT"}  # fmt: skip
        filled = {f["client_order_id"] for f in fills}
        assert m["fill_rate"] == pytest.approx(len(filled & submitted) / len(submitted), rel=1e-9)
        # trades, independently: the book's own realized PnL (fees in) moves by each trade
        # plus the fees of the fills that opened or added (charged when paid, not at close)
        pnl = [float(t) for t in trade_pnls(fills)]
        wins, losses = [p for p in pnl if p > 0], [p for p in pnl if p < 0]
        assert m["trades"] == len(pnl) and m["win_rate"] == pytest.approx(len(wins) / len(pnl))
        if losses:
            assert m["profit_factor"] == pytest.approx(sum(wins) / -sum(losses), rel=1e-9)
        realized = sum(float(p["realized_pnl"]) for p in st[-1].positions)
        open_fees = _open_lot_fees(fills)
        assert sum(pnl) == pytest.approx(realized + open_fees, abs=1e-6)
        monthly = m["monthly_returns"]
        assert list(monthly) == ["2023-03"]
        assert monthly["2023-03"] == pytest.approx(eq.iloc[-1] / cash - 1, rel=1e-9)
        checked += 1
    assert checked == 2


def _open_lot_fees(fills: list[dict]) -> float:
    """Fees of the fills that opened the position still held, pro rata (FIFO-free: the
    position is one average-cost lot), computed by walking the fills once more."""
    pos, fees = 0.0, 0.0
    for f in fills:
        q = float(f["quantity"]) * (1 if f["side"] == "BUY" else -1)
        fee = float(f["fee"])
        if pos == 0 or (pos > 0) == (q > 0):
            pos, fees = pos + q, fees + fee
            continue
        closed = min(abs(q), abs(pos))
        fees -= fees * closed / abs(pos)
        if abs(q) > abs(pos):
            fees = fee * (abs(q) - closed) / abs(q)
        pos += q
        if abs(pos) < 1e-12:
            pos, fees = 0.0, 0.0
    return fees
