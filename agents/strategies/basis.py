"""Basis reversion: buy a stream when it trades unusually cheap against a reference stream
of the same asset, sell when the gap closes (written only against the adapter API).

The basis is ``close / reference close − 1`` in bps, e.g. BTC/USDT against BTC/USD: the
market's price of the stablecoin. Its usual level and spread are exponential moving
averages over ``window`` bars (mean and variance). When the basis is ``entry_z``
standard deviations below its mean *and* at least ``min_edge_bps`` below it (the edge
must pay two taker fees), the bot buys ``order_notional`` of the stream; it sells the
position once the basis is back above ``mean − exit_z`` deviations. Long only (spot).

The reference's bars arrive through ``references`` (the runner hands them to ``on_bar``
with a view of the reference stream); a reference price older than
``max_reference_age_s`` is not used (one stream stalled is no signal). After an order
the bot waits ``settle_bars`` of its own bars before the next (the fill may still be on
its way to the books).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from agents.strategies.base import LONG_ONLY, BotView, intent, quantize_down, register

BPS = 10_000.0


@register("basis_reversion")
class BasisReversion:
    kind = "basis_reversion"
    side = LONG_ONLY

    def __init__(
        self,
        reference: str = "binanceus:BTC/USD",
        window: int = 240,
        entry_z: float = 2.5,
        exit_z: float = 0.0,
        min_edge_bps: str | Decimal = "25",
        order_notional: str | Decimal = "5000",
        lot_size: str | Decimal = "0.0001",
        max_reference_age_s: int = 300,
        settle_bars: int = 3,
    ) -> None:
        if ":" not in reference:
            raise ValueError(f"reference must be venue:symbol, got {reference!r}")
        if window < 2 or entry_z <= 0 or exit_z > entry_z:
            raise ValueError("need window >= 2, entry_z > 0 and exit_z <= entry_z")
        self.references = (reference,)
        self.alpha = 2.0 / (window + 1)
        self.window = window
        self.entry_z, self.exit_z = float(entry_z), float(exit_z)
        self.min_edge = float(Decimal(str(min_edge_bps)))
        self.notional = Decimal(str(order_notional))
        self.lot = Decimal(str(lot_size))
        self.max_age_ms = max_reference_age_s * 1000
        self.settle_bars = settle_bars
        self.ref: tuple[int, float] | None = None  # (ts_event, close) of the reference
        self.mean: float | None = None
        self.var = 0.0
        self.seen = 0  # basis observations
        self.bars = 0
        self.last_order_bar = -(10**9)

    def on_bar(self, bar: Mapping[str, Any], view: BotView) -> list[dict[str, Any]]:
        if f"{bar['venue']}:{bar['symbol']}" == self.references[0]:
            self.ref = (int(bar["ts_event"]), float(bar["close"]))
            return []
        self.bars += 1
        if self.ref is None or int(bar["ts_event"]) - self.ref[0] > self.max_age_ms:
            return []
        close = float(bar["close"])
        basis = (close / self.ref[1] - 1.0) * BPS
        z, gap = self._observe(basis)
        if z is None or self.bars - self.last_order_bar < self.settle_bars:
            return []
        why = f"basis {basis:.2f} bps, mean {self.mean:.2f}, z {z:.2f}"
        if view.position <= 0 and z <= -self.entry_z and gap >= self.min_edge:
            qty = quantize_down(self.notional / Decimal(repr(close)), self.lot)
            if qty <= 0:
                return []
            return self._order(bar, view, "BUY", qty, False, f"cheap: {why}")
        if view.position > 0 and z >= -self.exit_z:
            return self._order(bar, view, "SELL", view.position, True, f"closed: {why}")
        return []

    def _observe(self, basis: float) -> tuple[float | None, float]:
        """z-score and gap (mean − basis, bps) against the level *before* this bar."""
        self.seen += 1
        if self.mean is None:
            self.mean = basis
            return None, 0.0
        diff = basis - self.mean
        sd = math.sqrt(self.var)
        z = diff / sd if sd > 0 and self.seen > self.window else None
        self.mean += self.alpha * diff
        self.var = (1 - self.alpha) * (self.var + self.alpha * diff * diff)
        return z, -diff

    def _order(self, bar: Mapping[str, Any], view: BotView, side: str, qty: Decimal,
               reducing: bool, reason: str) -> list[dict[str, Any]]:  # fmt: skip
        self.last_order_bar = self.bars
        return [intent(bar, view, self.kind, side=side, order_type="MARKET", quantity=qty,
                       time_in_force="IOC", reduce_only=reducing, reason=reason)]  # fmt: skip
