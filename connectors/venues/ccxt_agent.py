"""Thin Faust agent for exchange accounts in sandbox/live mode (ccxt).

Registers nothing unless the desk config switches a venue away from paper.
Commands are sent to the exchange in a worker thread (ccxt is blocking); every
``POLL_SECONDS`` the accounts' new executions go to ``fills`` and their own
view to ``venue.reports``. A venue that cannot be set up (no keys, live
without the environment flag) stops the worker with its one-line reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from connectors.feeds.backoff import FeedError
from connectors.venues.ccxt_desk import CcxtDesk
from streams.metrics import EVENTS_IN, EVENTS_OUT
from streams.topics import Routed

NAME = "venue-ccxt"
POLL_SECONDS = 10.0
log = logging.getLogger(__name__)


def register(desk: Any) -> None:
    if all(desk.config.venue(b.venue).mode == "paper" for b in desk.config.bots if b.enabled):
        return
    app = desk.app
    venues = CcxtDesk(desk.config)

    async def publish(routed: list[Routed]) -> None:
        for topic, key, event in routed:
            await desk.topics[topic].send(key=key.encode(), value=event)
            EVENTS_OUT.labels(NAME, topic).inc()

    @app.agent(desk.topics["orders.commands"], name=f"{NAME}-commands")
    async def ccxt_commands(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "orders.commands").inc()
            try:
                await publish(await asyncio.to_thread(venues.on_command, event.value))
            except Exception as exc:  # outcome unknown (e.g. exchange down): recon decides
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")

    @app.timer(POLL_SECONDS, name=f"{NAME}-poll")
    async def ccxt_poll() -> None:
        try:
            await publish(await asyncio.to_thread(venues.poll))
        except FeedError as exc:
            log.warning("venue poll failed, retrying in %.0f s: %s", POLL_SECONDS, exc)
