"""The portfolio node: fills and marks → books → portfolio.snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.portfolio.core import Portfolio
from streams.config import DeskConfig


class PortfolioNode:
    def __init__(self, config: DeskConfig, peers: Mapping[str, Any]) -> None:
        self.portfolio = Portfolio.from_config(config)

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Any) -> None:
        if topic == "fills":
            bots = [self.portfolio.on_fill(event).bot_id]
        else:  # a clean bar: marks
            bots = list(self.portfolio.on_bar(event))
        for bot_id in bots:
            snap = self.portfolio.snapshot(
                bot_id, int(event["ts_event"]), event["ts_ingest"], event["event_id"]
            )
            ctx.emit("portfolio.snapshots", snap)

    def view(self) -> dict[str, Any]:
        """The books as the desk's checkpoint shows them (``desk`` drills read them)."""
        return {"books": {b: book.to_state() for b, book in sorted(self.portfolio.books.items())}}

    def carry_from(self, old: PortfolioNode) -> None:
        """After a config change: every bot both configs have keeps its book."""
        for bot_id, book in old.portfolio.books.items():
            if bot_id in self.portfolio.books:
                self.portfolio.books[bot_id] = book
