"""Pure: a backtest's performance figures from its equity curve and its fills.

Definitions (docs/backtest.md):

* **equity curve**: the bot's equity after each of its bars (its portfolio snapshot,
  marked at the bar's close), in event time.
* **net profit**: last equity − starting cash (fees included); **fees**: the sum of the
  fills' fees.
* **trades**: every fill that cuts a position (a lot closed at the average cost); its
  PnL is what it realized, less its own fee and the fees of the opening fills of the
  quantity it closed, pro rata. **gross profit / loss**: the sum of the winning / losing
  trades' PnL; **profit factor** gross profit ÷ |gross loss|; **win rate** winners ÷ trades.
* **max drawdown**: the largest fall from a running peak of the curve, as a fraction of
  the peak; its **duration**: the longest time from a peak to the first bar back at it
  (or to the end, if never).
* **Sharpe / Sortino**: from daily returns (the last equity of each UTC day), mean ÷
  standard deviation (sample, n−1) and mean ÷ downside deviation (root mean square of the
  negative returns), both × √periods (365 for a 24/7 market, 252 otherwise; no risk-free
  rate).
* **fill rate**: submitted orders with at least one fill ÷ submitted orders.
* **turnover**: traded notional ÷ mean equity. **exposure time**: the share of the bot's
  bars that end with a position.
* **monthly returns**: last equity of each UTC month ÷ last equity of the one before (the
  starting cash for the first) − 1.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
CENT_FRACTION = Decimal("1e-8")  # derived money (pro-rata fees) is shown to 8 places


@dataclass(frozen=True)
class Point:
    """One bar of a bot's equity curve."""

    ts: int  # event time, ms
    equity: Decimal
    exposed: bool  # a position is held after this bar


def _day(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%d")


def _month(ts: int) -> str:
    return _day(ts)[:7]


def trade_pnls(fills: Iterable[Mapping[str, Any]]) -> list[Decimal]:
    """The PnL of every position-cutting fill (average-cost lots), in fill order."""
    qty: dict[str, Decimal] = {}  # signed position per symbol
    cost: dict[str, Decimal] = {}  # average entry price
    open_fees: dict[str, Decimal] = {}  # entry fees not yet charged to a trade
    out: list[Decimal] = []
    for f in fills:
        sym, q = f["symbol"], Decimal(f["quantity"])
        price, fee = Decimal(f["price"]), Decimal(f["fee"])
        signed = q if f["side"] == "BUY" else -q
        pos = qty.get(sym, ZERO)
        if pos == 0 or (pos > 0) == (signed > 0):  # opening or adding
            total = pos + signed
            cost[sym] = (cost.get(sym, ZERO) * abs(pos) + price * q) / abs(total)
            qty[sym] = total
            open_fees[sym] = open_fees.get(sym, ZERO) + fee
            continue
        closed = min(q, abs(pos))
        direction = 1 if pos > 0 else -1
        entry_fee = open_fees.get(sym, ZERO) * closed / abs(pos)
        fee_here = fee * closed / q
        out.append((price - cost[sym]) * closed * direction - fee_here - entry_fee)
        open_fees[sym] = open_fees.get(sym, ZERO) - entry_fee
        qty[sym] = pos + signed
        if q > abs(pos):  # a flip: the rest opens a lot the other way
            cost[sym] = price
            open_fees[sym] = fee - fee_here
        elif qty[sym] == 0:
            open_fees[sym] = ZERO
    return out


def drawdown(curve: Sequence[Point]) -> tuple[float, int]:
    """(max drawdown as a fraction of the peak, longest peak-to-recovery time in ms)."""
    peak, peak_ts = None, 0
    worst, longest = 0.0, 0
    for p in curve:
        if peak is None or p.equity >= peak:
            if peak is not None:
                longest = max(longest, p.ts - peak_ts)
            peak, peak_ts = p.equity, p.ts
            continue
        if peak > 0:
            worst = max(worst, float((peak - p.equity) / peak))
    if curve and peak is not None and curve[-1].equity < peak:
        longest = max(longest, curve[-1].ts - peak_ts)
    return worst, longest


def _last_per(curve: Sequence[Point], bucket: Any) -> list[tuple[str, Decimal]]:
    out: dict[str, Decimal] = {}
    for p in curve:
        out[bucket(p.ts)] = p.equity
    return list(out.items())


def daily_returns(curve: Sequence[Point], start: Decimal) -> list[float]:
    prev, out = start, []
    for _, eq in _last_per(curve, _day):
        out.append(float(eq / prev - 1) if prev else 0.0)
        prev = eq
    return out


def monthly_returns(curve: Sequence[Point], start: Decimal) -> dict[str, float]:
    prev, out = start, {}
    for month, eq in _last_per(curve, _month):
        out[month] = round(float(eq / prev - 1), 10) if prev else 0.0
        prev = eq
    return out


def sharpe_sortino(returns: Sequence[float], periods: int) -> tuple[float | None, float | None]:
    if len(returns) < 2:
        return None, None
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    down = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    sharpe = mean / math.sqrt(var) * math.sqrt(periods) if var > 0 else None
    sortino = mean / down * math.sqrt(periods) if down > 0 else None
    return sharpe, sortino


def _r(x: float | None) -> float | None:
    """Ratios rounded to 10 significant digits: the same on every machine and run."""
    return None if x is None else float(f"{x:.10g}")


def bot_metrics(
    curve: Sequence[Point],
    fills: Sequence[Mapping[str, Any]],
    submitted: Sequence[str],
    starting_cash: Decimal,
    periods: int,
) -> dict[str, Any]:
    """Every figure of one bot (money as exact decimal strings, ratios as floats)."""
    end = curve[-1].equity if curve else starting_cash
    trades = trade_pnls(fills)
    wins = [t for t in trades if t > 0]
    losses = [t for t in trades if t < 0]
    gross_profit, gross_loss = sum(wins, ZERO), sum(losses, ZERO)
    filled = {f["client_order_id"] for f in fills}
    notional = sum((Decimal(f["price"]) * Decimal(f["quantity"]) for f in fills), ZERO)
    mean_equity = sum((p.equity for p in curve), ZERO) / len(curve) if curve else starting_cash
    dd, dd_ms = drawdown(curve)
    sharpe, sortino = sharpe_sortino(daily_returns(curve, starting_cash), periods)
    return {
        "starting_cash": str(starting_cash),
        "final_equity": str(end),
        "net_profit": str(end - starting_cash),
        "return": _r(float(end / starting_cash - 1)) if starting_cash else None,
        "gross_profit": str(gross_profit.quantize(CENT_FRACTION)),
        "gross_loss": str(gross_loss.quantize(CENT_FRACTION)),
        "fees": str(sum((Decimal(f["fee"]) for f in fills), ZERO)),
        "trades": len(trades),
        "win_rate": _r(len(wins) / len(trades)) if trades else None,
        "profit_factor": _r(float(gross_profit / -gross_loss)) if gross_loss else None,
        "max_drawdown": _r(dd),
        "max_drawdown_duration_s": dd_ms // 1000,
        "sharpe": _r(sharpe),
        "sortino": _r(sortino),
        "annualisation": f"daily returns x sqrt({periods})",
        "fills": len(fills),
        "orders": len(submitted),
        "fill_rate": _r(len(filled & set(submitted)) / len(submitted)) if submitted else None,
        "turnover": _r(float(notional / mean_equity)) if mean_equity else None,
        "exposure_time": _r(sum(p.exposed for p in curve) / len(curve)) if curve else None,
        "bars": len(curve),
        "monthly_returns": monthly_returns(curve, starting_cash),
    }
