"""The paper-venue node: clean bars and order commands → order events, fills, reports.

It prices a bar with the quote the quotes node made of that same bar (handled
first), so a resting order meets the bar it was quoted against.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.paper_venue.desk import PaperDesk
from streams.config import DeskConfig
from streams.topics import stream_key


class PaperVenueNode:
    def __init__(self, config: DeskConfig, peers: Mapping[str, Any]) -> None:
        self.venues = PaperDesk(config)
        self.quotes = peers["quotes-synthetic"]

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Any) -> None:
        if topic == "orders.commands":
            routed = self.venues.on_command(event)
        else:
            routed = self.venues.on_bar(event, self.quotes.latest.get(stream_key(event)))
        for out_topic, _key, ev in routed:
            ctx.emit(out_topic, ev)

    def owns(self, topic: str, event: Mapping[str, Any]) -> bool:
        """A paper account's order event, fill or report is this node's own."""
        return topic in ("orders.events", "fills", "venue.reports") and self.venues.handles(
            event.get("venue"), event.get("account")
        )

    def carry_from(self, old: PaperVenueNode) -> None:
        """After a config change: the accounts (balances, open orders) as they were."""
        self.venues.restore(old.venues.to_state())
