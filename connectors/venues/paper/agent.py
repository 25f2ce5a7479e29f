"""Thin Faust agents for the paper venue: orders.commands and clean bars in;
orders.events, fills and venue.reports out, exactly as a real venue connector.

Bars without a recorded book get the same synthetic quote as ``market.quotes``
(the quotes core, labelled ``optimistic_estimated``). Commands and bars arrive
on different topics and are applied in arrival order, as a real venue sees
them; the in-process desk loop is the event-time-exact reference.

The accounts survive a worker restart: after each input the venue's state is
checkpointed to PostgreSQL with the input's offset (``connectors.postgres.venue_state``),
after its events were sent. A restarted agent takes the state back before its
first input and skips inputs the state already holds; an input whose events
went out but whose checkpoint did not is applied again from the older state,
giving the same events with the same ids (the consumers de-duplicate them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agents.quotes.core import SyntheticQuoter
from connectors.postgres.venue_state import VenueCheckpoint
from connectors.retry import until_done
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

    dsn = desk.settings.postgres_dsn
    checkpoint = (
        None if dsn is None or not venues.venues else VenueCheckpoint(dsn.get_secret_value())
    )
    offsets: dict[str, int] = {}  # "topic/partition" -> offset of the last input applied
    restored = False

    async def publish(routed: list[Routed]) -> None:
        for topic, key, event in routed:
            await desk.topics[topic].send(key=key.encode(), value=event)
            EVENTS_OUT.labels(NAME, topic).inc()

    async def apply(event: Any, step: Callable[[], list[Routed]]) -> None:
        """One input under the lock: restore once, skip what the state holds, apply, send,
        checkpoint."""
        nonlocal restored
        async with serial:
            if not restored and checkpoint is not None:
                saved = await until_done("paper venue checkpoint load", checkpoint.load)
                if saved is not None:
                    venues.restore(saved.state["venues"])
                    quoter.restore(saved.state["quoter"])
                    offsets.update(saved.offsets)
            restored = True
            msg = event.message
            where = f"{msg.topic}/{msg.partition}"
            if offsets.get(where, -1) >= msg.offset:
                return  # re-delivered: already in the restored state
            routed = step()
            offsets[where] = msg.offset
            await publish(routed)
            if checkpoint is not None:
                state = {"venues": venues.to_state(), "quoter": quoter.to_state()}
                at = dict(offsets)
                await until_done("paper venue checkpoint save", lambda: checkpoint.save(state, at))

    @app.agent(commands, name=f"{NAME}-commands")
    async def paper_commands(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "orders.commands").inc()
            try:
                await apply(event, lambda e=event: venues.on_command(e.value))
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")

    @app.agent(clean, name=f"{NAME}-market")
    async def paper_market(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "market.bars.clean").inc()
            bar = event.value
            try:
                await apply(event, lambda b=bar: venues.on_bar(b, quoter.quote(b)))
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
