"""Exchange accounts in sandbox/live mode (ccxt), as a node of the agent shell.

Wired only when the desk config switches a venue away from paper. ccxt is
blocking, so the shell runs the node in a worker thread: a command is sent to the
exchange, and every ``POLL_SECONDS`` the accounts' new executions go to ``fills`` and
their own view to ``venue.reports``. A command whose outcome is unknown (exchange
down) is dead-lettered with the reason and reconciliation decides; a failed poll is
logged and tried again at the next tick. A venue that cannot be set up (no keys, live
without the environment flag) stops the worker with its one-line reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.venues.ccxt_desk import CcxtDesk
from streams.shell import serve

NAME = "venue-ccxt"
POLL_SECONDS = 10.0


class CcxtVenueNode:
    """Commands in, the exchange's answers out; ``poll`` is the declared timer."""

    blocking = True  # every call goes to the exchange
    timer_seconds = POLL_SECONDS

    def __init__(self, venues: CcxtDesk) -> None:
        self.venues = venues

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Any) -> None:
        for out_topic, _key, out in self.venues.on_command(event):
            ctx.emit(out_topic, out)

    def poll(self, ctx: Any) -> None:
        for out_topic, _key, out in self.venues.poll():
            ctx.emit(out_topic, out)


def register(desk: Any) -> None:
    if all(desk.config.venue(b.venue).mode == "paper" for b in desk.config.bots if b.enabled):
        return
    serve(desk, NAME, CcxtVenueNode(CcxtDesk(desk.config)))
