"""The risk node: pre-trade risk on intents, books from fills and order events, portfolio
risk on every snapshot, the operator's risk commands (``agents.risk.desk.RiskDesk``).

It reads the data-quality node's freshness to fail closed on stale or broken data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.risk.desk import RiskDesk
from streams.config import DeskConfig
from streams.decimals import tidy


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
            for action_topic, ev in actions:  # its risk commands: applied already
                ctx.emit(action_topic, ev)
            for c in orders:
                ctx.emit("orders.commands", c)
        elif topic == "risk.commands":
            _applied, cancels = self.risk.command(event)
            for c in cancels:
                ctx.emit("orders.commands", c)

    def view(self) -> dict[str, Any]:
        """What risk holds, as the desk's checkpoint shows it to people (``desk positions``)
        and drills (the ledger): its books, its trading states, what it reserves for open
        orders (bot -> venue:symbol -> open buys and sells, base units)."""
        books, exposure = self.risk.books.books, self.risk.exposure
        reserved: dict[str, dict[str, dict[str, str]]] = {}
        legs = {(w.bot_id, w.venue, w.symbol) for w in exposure.orders.values() if w.open_qty}
        for bot, venue, symbol in sorted(legs):
            r = exposure.reserved(bot, venue, symbol)
            reserved.setdefault(bot, {})[f"{venue}:{symbol}"] = {
                "buys": str(tidy(r.buys)), "sells": str(tidy(r.sells))}  # fmt: skip
        return {
            "books": {b: book.to_state() for b, book in sorted(books.items())},
            "trading_states": {b: st.as_dict() for b, st in sorted(self.risk.states.bots.items())},
            "reserved": reserved,
        }

    def drain_applied(self) -> list[dict[str, Any]]:
        """The commands risk applied or refused since the last call, each with what it did
        (``agents.risk.keeper`` makes them durable)."""
        return self.risk.drain_outcomes()

    def _alerts(self, ctx: Any) -> None:
        for alert in self.risk.drain_alerts():
            ctx.emit("alerts", alert)

    def carry_from(self, old: RiskNode) -> None:
        """After a config change: risk's books, reserved orders, trading states (a kill
        stays a kill), applied commands and portfolio-risk latches; the limits are new."""
        self.risk.restore_checkpoint(old.risk.checkpoint())
        for bot_id, state in old.risk.states.bots.items():
            if bot_id in self.risk.states.bots:
                self.risk.states.bots[bot_id] = state
        self.risk.applied_commands |= old.risk.applied_commands
        new, was = self.risk.portfolio_risk, old.risk.portfolio_risk
        if new is not None and was is not None:
            new.books.update(was.books)
            new.latch(limit for limit, status in was.status.items() if status == "breach")
