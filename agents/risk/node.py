"""The risk node: pre-trade risk on intents, books from fills and order events, portfolio
risk on every snapshot, the operator's risk commands (``agents.risk.desk.RiskDesk``).

It reads the data-quality node's freshness to fail closed on stale or broken data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.risk.desk import RiskDesk
from streams.config import DeskConfig


class RiskNode:
    def __init__(self, config: DeskConfig, peers: Mapping[str, Any]) -> None:
        self.risk = RiskDesk(config)
        self.dq = peers["data-quality"]

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Any) -> None:
        if topic == "orders.intents":
            decision, command = self.risk.decide(event, self.dq.freshness)
            ctx.emit("risk.decisions", decision)
            self._alerts(ctx)
            if command is not None:
                ctx.emit("orders.commands", command)
        elif topic == "fills":
            self.risk.on_fill(event)
            self._alerts(ctx)
        elif topic == "orders.events":
            self.risk.on_order_event(event)
        elif topic == "portfolio.snapshots":
            actions, orders = self.risk.on_snapshot(event)
            for action_topic, ev in actions:
                ctx.emit(action_topic, ev)
            for c in orders:
                ctx.emit("orders.commands", c)
        elif topic == "risk.commands":
            _applied, cancels = self.risk.command(event)
            for c in cancels:
                ctx.emit("orders.commands", c)

    def _alerts(self, ctx: Any) -> None:
        for alert in self.risk.drain_alerts():
            ctx.emit("alerts", alert)
