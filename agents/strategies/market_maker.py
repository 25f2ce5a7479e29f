"""EPP-style market maker: regime from an EMA/ATR band, cost-aware spreads, inventory skew.

Per clean bar:

* **Regime.** ``up``/``down`` when the close is more than ``trend_atr`` ATRs
  above/below the EMA; ``high_vol`` when ATR is above ``high_vol_bps`` of price;
  else ``neutral``.
* **Spread floor** (per side, bps) = maker fee + ``min_edge_bps`` +
  ``vol_penalty`` × ATR in bps: a quote never sits closer to mid than it costs
  to trade plus the edge asked for. ``high_vol`` widens by ``high_vol_widen``.
* **Inventory skew.** The base share of equity is pulled toward
  ``target_base_share``: too much base shifts both sides down (sells get
  hit first, buys sit lower), capped at ``skew_cap_bps``; no side is ever
  pulled closer to mid than maker fee + ``min_edge_bps``.
* **Levels.** ``levels`` quotes per side, each ``level_step`` half-spreads
  further out, ``order_notional`` each (lot-rounded down).
* **One-sided in strong trends**: ``up`` quotes bids only, ``down`` asks only
  (no selling into a rally, no buying a falling knife).
* **Refresh** only when a quote drifted more than ``refresh_bps`` from where it
  would be placed now, the regime changed, or the position moved (a fill):
  then cancel-all for the symbol and re-quote. Otherwise the book is left alone.

Quotes are POST_ONLY GTC limits (maker). Prices are rounded away from mid
to ``tick_size``, so rounding never tightens a spread below the floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from agents.strategies.base import LONG_ONLY, BotView, intent, quantize_down, register
from analytics.indicators import Ema, WilderAtr

BPS = Decimal(10_000)
ONE = Decimal(1)


def _dec(x: Any) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


@dataclass(frozen=True)
class Quote:
    """One desired resting order."""

    side: str
    level: int
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True)
class Plan:
    """What the maker wants this bar, and why (shown in intent reasons)."""

    regime: str
    half_spread_bps: Decimal
    skew_bps: Decimal
    base_share: Decimal
    quotes: tuple[Quote, ...]


@register("epp_market_maker")
class EppMarketMaker:
    kind = "epp_market_maker"
    side = LONG_ONLY  # spot inventory: quotes around a base share, never short

    def __init__(
        self,
        levels: int = 2,
        order_notional: str | Decimal = "1000",
        min_edge_bps: str | Decimal = "2",
        maker_fee_bps: str | Decimal = "1",
        vol_penalty: str | Decimal = "0.5",
        ema_period: int = 50,
        atr_period: int = 14,
        trend_atr: str | Decimal = "3",
        high_vol_bps: str | Decimal = "40",
        high_vol_widen: str | Decimal = "1.5",
        level_step: str | Decimal = "0.4",
        target_base_share: str | Decimal = "0.5",
        skew_bps_per_share: str | Decimal = "40",
        skew_cap_bps: str | Decimal = "20",
        refresh_bps: str | Decimal = "5",
        tick_size: str | Decimal = "0.01",
        lot_size: str | Decimal = "0.00001",
    ) -> None:
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        share = _dec(target_base_share)
        if not 0 <= share <= 1:
            raise ValueError(f"target_base_share must be within [0, 1], got {share}")
        self.levels = levels
        self.notional = _dec(order_notional)
        self.min_edge, self.fee, self.vol_penalty = (
            _dec(min_edge_bps),
            _dec(maker_fee_bps),
            _dec(vol_penalty),
        )
        self.ema, self.atr = Ema(ema_period), WilderAtr(atr_period)
        self.trend_atr, self.high_vol_bps = _dec(trend_atr), _dec(high_vol_bps)
        self.high_vol_widen, self.level_step = _dec(high_vol_widen), _dec(level_step)
        self.target_share, self.skew_k, self.skew_cap = (
            share,
            _dec(skew_bps_per_share),
            _dec(skew_cap_bps),
        )
        self.refresh_bps = _dec(refresh_bps)
        self.tick, self.lot = _dec(tick_size), _dec(lot_size)
        self.quoted: tuple[Quote, ...] = ()
        self.quoted_regime: str | None = None
        self.quoted_position: Decimal | None = None

    # -- pure math (tested directly) ----------------------------------------------------------

    def regime(self, close: float) -> str | None:
        ema, atr = self.ema.value, self.atr.value
        if ema is None or atr is None or close <= 0:
            return None
        if abs(close - ema) > float(self.trend_atr) * atr:
            return "up" if close > ema else "down"
        if atr / close * 1e4 > float(self.high_vol_bps):
            return "high_vol"
        return "neutral"

    def spread_floor_bps(self, atr_bps: Decimal) -> Decimal:
        return self.fee + self.min_edge + self.vol_penalty * atr_bps

    def skew_bps(self, base_share: Decimal) -> Decimal:
        """Positive = shift quotes down (too much base); always within ±skew_cap."""
        raw = (base_share - self.target_share) * self.skew_k
        return max(-self.skew_cap, min(self.skew_cap, raw))

    def plan(self, close: float, view: BotView) -> Plan | None:
        regime = self.regime(close)
        atr = self.atr.value
        if regime is None or atr is None or view.equity <= 0:
            return None
        mid = _dec(repr(close))
        atr_bps = (_dec(repr(atr)) / mid * BPS).quantize(Decimal("0.0001"))
        half = self.spread_floor_bps(atr_bps)
        if regime == "high_vol":
            half *= self.high_vol_widen
        base_share = view.position * mid / view.equity
        skew = self.skew_bps(base_share)
        sides = {"up": ("BUY",), "down": ("SELL",)}.get(regime, ("BUY", "SELL"))
        levels = 1 if regime == "high_vol" else self.levels
        quotes = []
        for side in sides:
            for lvl in range(levels):
                off = half * (ONE + self.level_step * lvl)
                # skew leans a side toward mid, never inside what a fill costs plus the edge
                least = self.fee + self.min_edge
                if side == "BUY":
                    raw = mid * (ONE - max(off + skew, least) / BPS)
                    price = (raw / self.tick).to_integral_value(ROUND_FLOOR) * self.tick
                else:
                    raw = mid * (ONE + max(off - skew, least) / BPS)
                    price = (raw / self.tick).to_integral_value(ROUND_CEILING) * self.tick
                qty = quantize_down(self.notional / price, self.lot)
                if qty > 0 and price > 0:
                    quotes.append(Quote(side, lvl, price, qty))
        return Plan(regime, half, skew, base_share.quantize(Decimal("0.0001")), tuple(quotes))

    def needs_refresh(self, plan: Plan, position: Decimal) -> bool:
        if plan.regime != self.quoted_regime or position != self.quoted_position:
            return True
        if [(q.side, q.level) for q in plan.quotes] != [(q.side, q.level) for q in self.quoted]:
            return True
        return any(
            abs(new.price / old.price - ONE) * BPS > self.refresh_bps
            for new, old in zip(plan.quotes, self.quoted, strict=True)
        )

    # -- the adapter --------------------------------------------------------------------------

    def on_bar(self, bar: Mapping[str, Any], view: BotView) -> list[dict[str, Any]]:
        self.ema.update(bar["close"])
        self.atr.update(bar["high"], bar["low"], bar["close"])
        plan = self.plan(bar["close"], view)
        if plan is None or not self.needs_refresh(plan, view.position):
            return []
        why = (
            f"regime {plan.regime}; half-spread {plan.half_spread_bps:.2f} bps; "
            f"base share {plan.base_share} vs target {self.target_share}; "
            f"skew {plan.skew_bps:+.2f} bps"
        )
        out = []
        if self.quoted:
            out.append(intent(bar, view, self.kind, action="CANCEL_ALL", reason=f"refresh: {why}"))
        for n, q in enumerate(plan.quotes, start=1):
            out.append(
                intent(
                    bar,
                    view,
                    self.kind,
                    seq=n,
                    side=q.side,
                    order_type="POST_ONLY",
                    quantity=q.quantity,
                    limit_price=q.price,
                    time_in_force="GTC",
                    reason=f"L{q.level} {q.side.lower()}: {why}",
                )
            )
        self.quoted, self.quoted_regime, self.quoted_position = (
            plan.quotes,
            plan.regime,
            view.position,
        )
        return out
