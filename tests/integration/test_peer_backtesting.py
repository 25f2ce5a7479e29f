"""Side by side with a peer: the desk's graph and backtesting.py run the same EMA cross on the
same shared bars with the same rules (market orders filled whole at the next bar's open,
10 bps commission each way) and must make the same trades and end on the same equity.

backtesting.py trades whole units, so it sees prices per ``UNIT`` of BTC and buys
``SIZE`` units (= ``QTY`` BTC); every price it reports is scaled back.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.backtest.run import backtest_config, run_backtest
from analytics.indicators import Ema
from connectors.feeds.files import ReadOptions, parse_when, read_files
from streams.config import load_config

CRYPTO = Path(__file__).resolve().parents[3] / "shared" / "data" / "crypto_1m"
pytestmark = pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present")
FAST, SLOW, QTY = 10, 30, Decimal("0.01")
UNIT = 1e-4  # backtesting.py's unit: 0.0001 BTC
SIZE = int(QTY / Decimal(str(UNIT)))  # 100 units
CASH, COMMISSION = 100_000, 0.001


def ema_series(closes: list[float], period: int) -> np.ndarray:
    """The strategy's own EMA (``analytics.indicators.Ema``) as the peer's indicator."""
    ema = Ema(period)
    return np.array([np.nan if (v := ema.update(c)) is None else v for c in closes])


def peer(clean: list[dict]) -> tuple[pd.DataFrame, float]:
    from backtesting import Backtest, Strategy

    closes = [float(b["close"]) for b in clean]
    fast, slow = ema_series(closes, FAST), ema_series(closes, SLOW)

    class Cross(Strategy):
        def init(self) -> None:
            self.fast = self.I(lambda: fast, name="fast")
            self.slow = self.I(lambda: slow, name="slow")

        def next(self) -> None:
            f, s, pf, ps = self.fast[-1], self.slow[-1], self.fast[-2], self.slow[-2]
            if np.isnan(pf) or np.isnan(ps) or (f > s) == (pf > ps):
                return
            if f > s and not self.position:
                self.buy(size=SIZE)
            elif f <= s and self.position:
                self.position.close()

    index = pd.to_datetime([b["open_time"] for b in clean], unit="ms", utc=True)
    df = pd.DataFrame(
        {
            k.capitalize(): [float(b[k]) * UNIT for b in clean]
            for k in ("open", "high", "low", "close")
        }
        | {"Volume": [float(b["volume"]) for b in clean]},
        index=index,
    )
    stats = Backtest(df, Cross, cash=CASH, commission=COMMISSION).run()
    return stats["_trades"], float(stats["Equity Final [$]"])


def test_the_desk_graph_and_backtesting_py_make_the_same_trades_and_equity() -> None:
    paths = [CRYPTO / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"]
    opts = ReadOptions(since=parse_when("2023-03-06"), until=parse_when("2023-03-09"))
    bars = read_files(paths, opts).bars
    cfg = backtest_config(load_config(), [("binanceus", "BTC/USDT")], strategy="ema_cross",
                          params={"fast": FAST, "slow": SLOW, "quantity": str(QTY)},
                          cash=Decimal(CASH), latency_ms=0, market_fill="next_open")  # fmt: skip
    assert cfg.fee_profiles[cfg.bots[0].fee_profile].taker_bps == Decimal(COMMISSION * 10_000)
    run = run_backtest(cfg, bars)
    clean = run.out.topic("market.bars.clean")
    assert len(clean) == len(bars)  # both engines see every bar
    trades, peer_equity = peer(clean)

    open_of = {b["ts_event"]: b["open_time"] for b in clean}
    fills = run.out.topic("fills")
    assert not run.out.topic("risk.decisions") or all(
        d["decision"] == "APPROVE" for d in run.out.topic("risk.decisions")
    )
    ours = [(f["side"], open_of[f["ts_event"]], f["price"], f["quantity"]) for f in fills]
    theirs = []
    for t in trades.itertuples():  # closed trades (the window ends flat here)
        theirs.append(("BUY", t.EntryTime, t.EntryPrice / UNIT, t.Size * UNIT))
        theirs.append(("SELL", t.ExitTime, t.ExitPrice / UNIT, t.Size * UNIT))
    assert len(ours) == len(theirs) >= 20, (len(ours), len(theirs))
    for (side, ts, price, qty), (pside, pts, pprice, pqty) in zip(ours, theirs, strict=True):
        assert side == pside
        assert pd.Timestamp(ts, unit="ms", tz="UTC") == pts
        assert float(price) == pytest.approx(pprice, abs=1e-6)
        assert float(qty) == pytest.approx(pqty, abs=1e-12)
    final = Decimal(run.metrics["bots"][cfg.bots[0].id]["final_equity"])
    assert abs(float(final) - peer_equity) < 0.005  # to the cent
