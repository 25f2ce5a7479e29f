"""The strategies node: clean bars → every bot's strategy → orders.intents.

A bot's view is its latest snapshot (the snapshot topic is handled here before
portfolio risk measures it, so the view is never older than the book).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.strategies.runner import StrategyRunner
from streams.config import DeskConfig


class StrategiesNode:
    def __init__(self, config: DeskConfig, peers: Mapping[str, Any]) -> None:
        self.runner = StrategyRunner(config)
        self.latest: dict[str, dict[str, Any]] = {}

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Any) -> None:
        if topic == "portfolio.snapshots":
            self.latest[event["bot_id"]] = dict(event)
            return
        for intent in self.runner.on_bar(event, self.latest.get):
            ctx.emit("orders.intents", intent)
        for kind, why in self.runner.drain_skipped():
            ctx.reject("market.bars.clean", event, why, kind)
