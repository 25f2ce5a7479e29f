"""Trend: EMA cross with volatility-scaled sizing (a strategy a desk would really run).

Long when the fast EMA is above the slow one, flat otherwise (spot: no shorts
unless ``allow_short``). The target size risks ``risk_per_trade`` of equity per
``atr_stop`` ATRs of adverse move, so size shrinks as volatility grows; it never
exceeds ``max_leverage`` × equity in notional. An order
goes out when the direction changes, or when the size is off by more than
``rebalance_band`` of the target (ATR moves every bar; fees should not).
After an order it waits ``settle_bars`` bars before topping up toward the same
direction: the fill may still be on its way to the books (in the stream, the
view lags the venue), and ordering again would double the position.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from agents.strategies.base import LONG_ONLY, LONG_SHORT, BotView, intent, quantize_down, register
from analytics.indicators import Ema, WilderAtr


@register("trend_ema")
class TrendEma:
    kind = "trend_ema"

    def __init__(
        self,
        fast: int = 12,
        slow: int = 48,
        atr_period: int = 14,
        risk_per_trade: str | Decimal = "0.01",
        atr_stop: str | Decimal = "2",
        lot_size: str | Decimal = "0.0001",
        max_position: str | Decimal | None = None,
        allow_short: bool = False,
        rebalance_band: str | Decimal = "0.25",
        max_leverage: str | Decimal = "1",
        settle_bars: int = 5,
    ) -> None:
        if not 0 < fast < slow:
            raise ValueError(f"need 0 < fast < slow, got fast={fast} slow={slow}")
        self.fast, self.slow = Ema(fast), Ema(slow)
        self.atr = WilderAtr(atr_period)
        self.risk = Decimal(str(risk_per_trade))
        self.atr_stop = Decimal(str(atr_stop))
        self.lot = Decimal(str(lot_size))
        self.max_position = None if max_position is None else Decimal(str(max_position))
        self.allow_short = allow_short
        self.side = LONG_SHORT if allow_short else LONG_ONLY
        self.band = Decimal(str(rebalance_band))
        self.max_leverage = Decimal(str(max_leverage))
        self.settle_bars = settle_bars
        self.bars = 0
        self._last_order: tuple[Decimal, int] | None = None  # (target, bar number)

    def target(self, view: BotView, price: float) -> Decimal | None:
        """Signed target position in base units, or None while warming up."""
        fast, slow, atr = self.fast.value, self.slow.value, self.atr.value
        if fast is None or slow is None or atr is None or atr <= 0:
            return None
        direction = 1 if fast > slow else (-1 if self.allow_short else 0)
        risk_cash = view.equity * self.risk
        size = risk_cash / (Decimal(repr(atr)) * self.atr_stop)
        size = min(size, view.equity * self.max_leverage / Decimal(repr(price)))
        if self.max_position is not None:
            size = min(size, self.max_position)
        return quantize_down(size, self.lot) * direction

    def _why(self, target: Decimal, position: Decimal) -> str:
        fast, slow = self.fast.value or 0.0, self.slow.value or 0.0
        cmp = ">" if fast > slow else "<="
        return (
            f"ema{self.fast.period} {fast:.6g} {cmp} ema{self.slow.period} {slow:.6g}; "
            f"target {target} from {position}"
        )

    def on_bar(self, bar: Mapping[str, Any], view: BotView) -> list[dict[str, Any]]:
        self.fast.update(bar["close"])
        self.slow.update(bar["close"])
        self.atr.update(bar["high"], bar["low"], bar["close"])
        self.bars += 1
        target = self.target(view, bar["close"])
        if target is None:
            return []
        if self._last_order is not None:
            last, at = self._last_order
            same_way = (target > 0) == (last > 0) and (target < 0) == (last < 0)
            if same_way and self.bars - at < self.settle_bars:
                return []  # the last order may still be on its way to the books
        delta = quantize_down(target - view.position, self.lot)
        flip = (target > 0) != (view.position > 0) or (target < 0) != (view.position < 0)
        if delta == 0 or (not flip and abs(delta) <= self.band * abs(target)):
            return []  # same direction, size close enough: do not churn on ATR noise
        side = "BUY" if delta > 0 else "SELL"
        self._last_order = (target, self.bars)
        reducing = abs(target) < abs(view.position) and (target * view.position) >= 0
        return [
            intent(
                bar,
                view,
                self.kind,
                side=side,
                order_type="MARKET",
                quantity=abs(delta),
                time_in_force="IOC",
                reduce_only=reducing,
                reason=self._why(target, view.position),
            )
        ]
