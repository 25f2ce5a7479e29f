"""Every configured bot's strategy, one instance per (bot, symbol), fed clean bars.

A bot sees its own position in the bar's symbol and its equity from its latest
``PortfolioSnapshot``; before the first snapshot it sees its starting cash and
no position (risk still denies while the portfolio is unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from agents.strategies.base import BotView, Strategy, build
from streams.config import DeskConfig

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
        for bot in config.bots:
            if not bot.enabled:
                continue
            spec = config.strategies[bot.strategy]
            self.cash[bot.id] = bot.starting_cash
            for sym in bot.symbols:
                self.instances[(bot.venue, sym, bot.id)] = build(spec.kind, spec.params)

    def bots_for(self, venue: str, symbol: str) -> list[str]:
        return sorted(b for v, s, b in self.instances if v == venue and s == symbol)

    def on_bar(self, bar: Mapping[str, Any], snapshots: Snapshots) -> list[dict[str, Any]]:
        venue, symbol = bar["venue"], bar["symbol"]
        out: list[dict[str, Any]] = []
        for bot_id in self.bots_for(venue, symbol):
            view = view_of(bot_id, venue, symbol, snapshots(bot_id), self.cash[bot_id])
            out += self.instances[(venue, symbol, bot_id)].on_bar(bar, view)
        return out
