"""EMA cross: the textbook trend rule, kept plain so other engines can run it too.

Long ``quantity`` when the fast EMA crosses above the slow one, flat when it crosses
back below; market orders. It is the strategy of the side-by-side check against
backtesting.py (``tests/integration/test_peer_backtesting.py``): the same rule, the same
bars, the same fills (next bar's open) must give the same trades there and here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from agents.strategies.base import LONG_ONLY, BotView, intent, register
from analytics.indicators import Ema


@register("ema_cross")
class EmaCross:
    kind = "ema_cross"
    side = LONG_ONLY

    def __init__(self, fast: int = 10, slow: int = 30, quantity: str | Decimal = "0.01") -> None:
        if not 0 < fast < slow:
            raise ValueError(f"need 0 < fast < slow, got fast={fast} slow={slow}")
        self.fast, self.slow = Ema(fast), Ema(slow)
        self.quantity = Decimal(str(quantity))
        if self.quantity <= 0:
            raise ValueError("quantity must be positive")
        self.above: bool | None = None  # fast above slow at the last bar both were known

    def on_bar(self, bar: Mapping[str, Any], view: BotView) -> list[dict[str, Any]]:
        fast, slow = self.fast.update(bar["close"]), self.slow.update(bar["close"])
        if fast is None or slow is None:
            return []
        above, was = fast > slow, self.above
        self.above = above
        if was is None or above == was:
            return []
        if above and view.position == 0:
            side, qty = "BUY", self.quantity
        elif not above and view.position > 0:
            side, qty = "SELL", view.position
        else:
            return []
        cmp = ">" if above else "<="
        why = f"ema{self.fast.period} {fast:.8g} {cmp} ema{self.slow.period} {slow:.8g}"
        return [intent(bar, view, self.kind, side=side, order_type="MARKET", quantity=qty,
                       time_in_force="IOC", reduce_only=side == "SELL", reason=why)]  # fmt: skip
