"""Thin Faust agents for the paper venue: orders.commands and clean bars in;
orders.events, fills and venue.reports out, exactly as a real venue connector.

Bars without a recorded book get the same synthetic quote as ``market.quotes``
(the quotes core, labelled ``optimistic_estimated``). Commands and bars arrive
on different topics and are applied in arrival order, as a real venue sees
them; the in-process desk loop is the event-time-exact reference.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents.quotes.core import SyntheticQuoter
from connectors.venues.paper.desk import PaperDesk, Routed
from streams.metrics import EVENTS_IN, EVENTS_OUT

NAME = "venue-paper"


def register(desk: Any) -> None:
    app = desk.app
    commands, clean = desk.topics["orders.commands"], desk.topics["market.bars.clean"]
    venues = PaperDesk(desk.config)
    quoter = SyntheticQuoter(desk.config.market_data)
    # the two agents share the venue: an order's events must reach the topic in the order
    # they happened (a fill computed on a bar, then the kill's cancel; never the reverse)
    serial = asyncio.Lock()

    async def publish(routed: list[Routed]) -> None:
        for topic, key, event in routed:
            await desk.topics[topic].send(key=key.encode(), value=event)
            EVENTS_OUT.labels(NAME, topic).inc()

    @app.agent(commands, name=f"{NAME}-commands")
    async def paper_commands(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "orders.commands").inc()
            try:
                async with serial:
                    await publish(venues.on_command(event.value))
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")

    @app.agent(clean, name=f"{NAME}-market")
    async def paper_market(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "market.bars.clean").inc()
            bar = event.value
            try:
                async with serial:
                    await publish(venues.on_bar(bar, quoter.quote(bar)))
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
