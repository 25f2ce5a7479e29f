"""Pure core: a ``Quote`` from a clean bar, mid ± an ATR-scaled half-spread.

Never the bar's high/low (that would look ahead inside the bar). The spread is
``k × ATR`` (Wilder), clamped between a floor and a cap in bps of the mid; the
quoted size is a share of the bar's volume. Every synthetic quote carries
``fill_model_bias=optimistic_estimated`` so anything filled against it is
labelled as an estimate, not an observed book.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analytics.indicators import WilderAtr
from streams.config import MarketData
from streams.envelope import caused_by
from streams.ids import event_id

BIAS = "optimistic_estimated"
SOURCE = "agent.quotes"


class SyntheticQuoter:
    """One running ATR per stream; a quote per clean bar."""

    def __init__(self, cfg: MarketData) -> None:
        self.cfg = cfg
        self.recorded = frozenset(cfg.recorded_books)
        self._atr: dict[tuple[str, str, str], WilderAtr] = {}

    def to_state(self) -> dict[str, dict[str, Any]]:
        """Each stream's running ATR, as JSON-able data (floats round-trip exactly)."""
        return {"|".join(k): dict(vars(a)) for k, a in sorted(self._atr.items())}

    def restore(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        self._atr = {tuple(k.split("|")): WilderAtr(**v) for k, v in state.items()}  # type: ignore[misc]

    def quote(self, bar: Mapping[str, Any]) -> dict[str, Any] | None:
        """The synthetic quote for this bar, or None where a real book is recorded."""
        stream = f"{bar['venue']}:{bar['symbol']}"
        if stream in self.recorded:
            return None
        key = (bar["venue"], bar["symbol"], bar["interval"])
        atr = self._atr.get(key)
        if atr is None:
            atr = self._atr[key] = WilderAtr(self.cfg.synthetic_atr_period)
        atr.update(bar["high"], bar["low"], bar["close"])
        mid = float(bar["close"])
        spread = float(self.cfg.synthetic_spread_atr) * (atr.partial or 0.0)
        floor = mid * float(self.cfg.synthetic_min_spread_bps) / 1e4
        cap = mid * float(self.cfg.synthetic_max_spread_bps) / 1e4
        half = min(max(spread, floor), cap) / 2
        size = float(bar["volume"]) * float(self.cfg.synthetic_size_share)
        eid = event_id("quote", bar["venue"], bar["symbol"], bar["interval"], bar["ts_event"])
        return {
            **caused_by(bar, eid, SOURCE),
            "venue": bar["venue"],
            "symbol": bar["symbol"],
            "bid": mid - half,
            "ask": mid + half,
            "bid_size": size,
            "ask_size": size,
            "synthetic": True,
            "fill_model_bias": BIAS,
        }
