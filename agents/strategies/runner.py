"""Every configured bot's strategy, one instance per (bot, symbol), fed clean bars.

A bot sees its own position in the bar's symbol and its equity from its latest
``PortfolioSnapshot``; before the first snapshot it sees its starting cash and
no position (risk still denies while the portfolio is unknown).

Defence in depth: data quality already keeps impossible values out of
``market.bars.clean``, but the runner checks again before any strategy state is
touched: a bar with a non-finite, <= 0, absurd (``max_price_ratio`` x the median
of the stream's recent closes) or ``decimal(38, 18)``-unrepresentable value is
skipped with its reason. A strategy that raises on a bar gets its state back as
it was before that bar; the other bots of the stream still trade it. Either way
the reason is kept (``drain_skipped``; the agent dead-letters the bar with it),
so one absurd value never costs the following bars.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from agents.dq.containment import (
    ABSURD_VALUE,
    BAD_VALUE,
    PRICE_LEVEL,
    UNREPRESENTABLE_VALUE,
    PriceGuard,
    bad_values,
    unrepresentable_values,
)
from agents.strategies.base import BotView, Strategy, build
from streams.config import DeskConfig

PRICES = ("open", "high", "low", "close")
STRATEGY_ERROR = "strategy_error"  # a strategy raised on a bar: its state was restored

Snapshots = Callable[[str], Mapping[str, Any] | None]


def view_of(
    bot_id: str, venue: str, symbol: str, snapshot: Mapping[str, Any] | None, cash: Decimal
) -> BotView:
    if snapshot is None:
        return BotView(bot_id, venue, symbol, Decimal(0), cash)
    position = sum(
        (
            Decimal(p["quantity"])
            for p in snapshot["positions"]
            if p["venue"] == venue and p["symbol"] == symbol
        ),
        Decimal(0),
    )
    return BotView(bot_id, venue, symbol, position, Decimal(snapshot["equity"]))


class StrategyRunner:
    """Clean bar in, the intents of every bot trading that stream out (in bot order)."""

    def __init__(self, config: DeskConfig) -> None:
        self.instances: dict[tuple[str, str, str], Strategy] = {}
        self.cash: dict[str, Decimal] = {}
        self._dq = config.data_quality
        self._prices: dict[tuple[str, str], PriceGuard] = {}
        self._skipped: list[tuple[str, str]] = []  # (dead-letter kind, "reason: detail")
        # a reference stream (venue, symbol) -> the instances reading it: (bot, its venue, symbol)
        self.readers: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for bot in config.bots:
            if not bot.enabled:
                continue
            spec = config.strategies[bot.strategy]
            self.cash[bot.id] = bot.starting_cash
            for sym in bot.symbols:
                strategy = build(spec.kind, spec.params)
                self.instances[(bot.venue, sym, bot.id)] = strategy
                for ref in getattr(strategy, "references", ()):
                    venue, _, ref_symbol = ref.partition(":")
                    if (venue, ref_symbol) != (bot.venue, sym):
                        self.readers.setdefault((venue, ref_symbol), []).append(
                            (bot.id, bot.venue, sym)
                        )

    def bots_for(self, venue: str, symbol: str) -> list[str]:
        return sorted(b for v, s, b in self.instances if v == venue and s == symbol)

    def check(self, bar: Mapping[str, Any]) -> str | None:
        """Why a strategy must not see this bar ("reason: detail"), or None."""
        stream = f"{bar['venue']}:{bar['symbol']}"
        values = {k: bar.get(k) for k in (*PRICES, "volume")}
        bad = bad_values(values, PRICES)
        if bad:
            return f"{BAD_VALUE}: {stream} {', '.join(bad)}; not given to the strategies"
        wide = unrepresentable_values(values, PRICES)
        if wide:
            return (
                f"{UNREPRESENTABLE_VALUE}: {stream} {'; '.join(wide)}; not given to the strategies"
            )
        guard = self._prices.get((bar["venue"], bar["symbol"]))
        if guard is None:
            dq = self._dq
            guard = PriceGuard(
                float(dq.max_price_ratio), dq.price_reference_bars, dq.absurd_confirm_bars
            )
            self._prices[(bar["venue"], bar["symbol"])] = guard
        if PRICE_LEVEL in (bar.get("quality_flags") or ()):
            guard.reset()  # data quality confirmed a new level
        close = float(values["close"])  # type: ignore[arg-type]
        absurd, _new_level = guard.judge({k: float(values[k]) for k in PRICES}, close)  # type: ignore[arg-type]
        if absurd is not None:
            return f"{ABSURD_VALUE}: {stream} {absurd}; not given to the strategies"
        guard.accept(close)
        return None

    def on_bar(self, bar: Mapping[str, Any], snapshots: Snapshots) -> list[dict[str, Any]]:
        venue, symbol = bar["venue"], bar["symbol"]
        out: list[dict[str, Any]] = []
        bots = self.bots_for(venue, symbol)
        readers = self.readers.get((venue, symbol), [])
        if not bots and not readers:
            return out
        why = self.check(bar)
        if why is not None:
            self._skipped.append(("validation", why))
            return out
        own = [(b, venue, symbol, True) for b in bots]
        for bot_id, bot_venue, traded, trades_it in [*own, *((*r, False) for r in readers)]:
            strategy = self.instances[(bot_venue, traded, bot_id)]
            saved = _snapshot(strategy)
            try:
                view = view_of(bot_id, venue, symbol, snapshots(bot_id), self.cash[bot_id])
                intents = strategy.on_bar(bar, view)
            except Exception as exc:  # one bot, one bar: never the stream, never the next bar
                _restore(strategy, saved)
                what = f"{type(exc).__name__}: {exc}".strip()
                self._skipped.append(
                    ("processing", f"{STRATEGY_ERROR}: bot {bot_id} on {venue}:{symbol}: {what}")
                )
                continue
            if not trades_it and intents:  # a reference bar: the bot does not trade it
                self._skipped.append(("processing", f"{STRATEGY_ERROR}: bot {bot_id} ordered on "
                                      f"its reference {venue}:{symbol}; set aside"))  # fmt: skip
                continue
            out += intents
        return out

    def drain_skipped(self) -> list[tuple[str, str]]:
        """(dead-letter kind, "reason: detail") of what was skipped since the last call."""
        out, self._skipped = self._skipped, []
        return out


def _snapshot(strategy: Strategy) -> dict[str, Any]:
    """The strategy's state, one level deep (indicators are flat objects): ~7 us a bar."""
    return {k: copy.copy(v) for k, v in vars(strategy).items()}


def _restore(strategy: Strategy, saved: dict[str, Any]) -> None:
    state = vars(strategy)
    state.clear()
    state.update(saved)
