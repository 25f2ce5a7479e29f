"""Side by side with a peer: the desk's graph and backtesting.py (``analytics.backtest.peer``)
run the same EMA cross on the same shared bars with the same rules (market orders filled
whole at the next bar's open, 10 bps commission each way) and must make the same trades
(times, sides, prices) and end on the same equity, to the cent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from analytics.backtest.peer import run_peer
from analytics.backtest.run import backtest_config, run_backtest
from connectors.feeds.files import ReadOptions, parse_when, read_files
from streams.config import load_config

CRYPTO = Path(__file__).resolve().parents[3] / "shared" / "data" / "crypto_1m"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present"),
]
FAST, SLOW, QTY, CASH = 10, 30, Decimal("0.01"), Decimal(100_000)


def test_the_desk_graph_and_backtesting_py_make_the_same_trades_and_equity() -> None:
    paths = [CRYPTO / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"]
    opts = ReadOptions(since=parse_when("2023-03-06"), until=parse_when("2023-03-09"))
    bars = read_files(paths, opts).bars
    cfg = backtest_config(load_config(), [("binanceus", "BTC/USDT")], strategy="ema_cross",
                          params={"fast": FAST, "slow": SLOW, "quantity": str(QTY)},
                          cash=CASH, latency_ms=0, market_fill="next_open")  # fmt: skip
    commission = float(cfg.fee_profiles[cfg.bots[0].fee_profile].taker_bps) / 10_000
    run = run_backtest(cfg, bars)
    clean = run.out.topic("market.bars.clean")
    assert len(clean) == len(bars)  # both engines see every bar
    assert all(d["decision"] == "APPROVE" for d in run.out.topic("risk.decisions"))
    peer = run_peer(clean, FAST, SLOW, QTY, float(CASH), commission)

    open_of = {b["ts_event"]: b["open_time"] for b in clean}
    ours = [(f["side"], open_of[f["ts_event"]], f["price"], f["quantity"])
            for f in run.out.topic("fills")]  # fmt: skip
    assert len(ours) == len(peer.fills) >= 20  # the window ends flat: every trade closed
    for (side, ts, price, qty), (pside, pts, pprice, pqty) in zip(ours, peer.fills, strict=True):
        assert (side, ts) == (pside, pts)
        assert float(price) == pytest.approx(pprice, abs=1e-6)
        assert float(qty) == pytest.approx(pqty, abs=1e-12)
    final = Decimal(run.metrics["bots"][cfg.bots[0].id]["final_equity"])
    assert abs(float(final) - peer.final_equity) < 0.005  # to the cent
