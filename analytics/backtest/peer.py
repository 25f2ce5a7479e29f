"""The side-by-side peer: backtesting.py running the EMA cross (``agents.strategies.ema_cross``)
on the same bars with the same rules — market orders filled whole at the next bar's open,
a commission per side — so the desk's graph can be checked trade by trade against an
independent engine, and timed against it (``bench/bench_backtest.py``).

backtesting.py trades whole units, so it sees prices per ``unit`` of the asset and buys
``quantity ÷ unit`` units; every price it reports is scaled back here.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from analytics.indicators import Ema


@dataclass(frozen=True)
class PeerRun:
    fills: list[tuple[str, int, float, float]]  # (side, bar open time ms, price, quantity)
    final_equity: float


def ema_series(closes: Sequence[float], period: int) -> np.ndarray:
    """The strategy's own EMA (``analytics.indicators.Ema``) as the peer's indicator, so
    both engines see the same cross on the same bar."""
    ema = Ema(period)
    return np.array([np.nan if (v := ema.update(c)) is None else v for c in closes])


def frame(bars: Sequence[Mapping[str, Any]], unit: float) -> pd.DataFrame:
    index = pd.to_datetime([b["open_time"] for b in bars], unit="ms", utc=True)
    cols = {
        k.capitalize(): [float(b[k]) * unit for b in bars] for k in ("open", "high", "low", "close")
    }
    return pd.DataFrame(cols | {"Volume": [float(b["volume"]) for b in bars]}, index=index)


def run_peer(
    bars: Sequence[Mapping[str, Any]],
    fast: int,
    slow: int,
    quantity: Decimal,
    cash: float,
    commission: float,
    unit: float = 1e-4,
) -> PeerRun:
    """backtesting.py over ``bars`` (one stream, in time order)."""
    from backtesting import Backtest, Strategy

    closes = [float(b["close"]) for b in bars]
    f_line, s_line = ema_series(closes, fast), ema_series(closes, slow)
    size = int(quantity / Decimal(str(unit)))

    class Cross(Strategy):
        def init(self) -> None:
            self.fast = self.I(lambda: f_line, name="fast")
            self.slow = self.I(lambda: s_line, name="slow")

        def next(self) -> None:
            f, s, pf, ps = self.fast[-1], self.slow[-1], self.fast[-2], self.slow[-2]
            if np.isnan(pf) or np.isnan(ps) or (f > s) == (pf > ps):
                return
            if f > s and not self.position:
                self.buy(size=size)
            elif f <= s and self.position:
                self.position.close()

    with warnings.catch_warnings():  # "some trades remain open": they are reported below
        warnings.simplefilter("ignore", UserWarning)
        stats = Backtest(frame(bars, unit), Cross, cash=cash, commission=commission).run()
    fills: list[tuple[str, int, float, float]] = []
    ms = pd.Timestamp(0, tz="UTC")
    for t in stats["_trades"].itertuples():  # closed trades, by entry
        qty = t.Size * unit
        fills.append(
            ("BUY", (t.EntryTime - ms) // pd.Timedelta(milliseconds=1), t.EntryPrice / unit, qty)
        )
        fills.append(
            ("SELL", (t.ExitTime - ms) // pd.Timedelta(milliseconds=1), t.ExitPrice / unit, qty)
        )
    for t in stats["_strategy"].trades:  # still open at the end: their entry only
        at = (t.entry_time - ms) // pd.Timedelta(milliseconds=1)
        fills.append(("BUY", at, t.entry_price / unit, t.size * unit))
    return PeerRun(fills, float(stats["Equity Final [$]"]))
