"""Thin Faust agents for the paper venue: orders.commands and clean bars in;
orders.events, fills and venue.reports out, exactly as a real venue connector.

Bars without a recorded book get the same synthetic quote as ``market.quotes``
(the quotes core, labelled ``optimistic_estimated``). Commands and bars arrive
on different topics and are applied in arrival order, as a real venue sees
them; the in-process engine (``streams.engine``) is the event-time-exact reference.

The accounts survive a worker restart and a broker restart. The venue's state is
checkpointed to PostgreSQL write-behind (``streams.writebehind``): inputs are
acknowledged to the broker only once a checkpoint holding them is saved, so a
PostgreSQL stall delays the checkpoint, not the venue. The checkpoint keeps the
offset of the last input per partition with the broker incarnation it belongs
to, and an outbox of the venue's latest events:

* same broker (a worker restart): re-delivered inputs the state holds are skipped;
* a broker that started empty (``streams.incarnation``): its offsets mean nothing,
  so none are skipped; the outbox is published again (consumers de-duplicate by
  event id) in case the old broker took them to its grave; and every order the
  store holds open that no paper account works is closed as REJECTED with the
  reason — its command never reached the venue — so nothing stays pending.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from agents.paper_venue.desk import PaperDesk, Routed
from agents.quotes.core import SyntheticQuoter
from connectors.postgres.venue_state import VenueCheckpoint
from connectors.retry import until_done
from streams.avro import registry
from streams.incarnation import offsets_valid
from streams.metrics import EVENTS_IN, EVENTS_OUT
from streams.topics import spec
from streams.writebehind import Checkpointer

NAME = "venue-paper"
OUTBOX = 2000  # the venue's latest events, published again after a broker restart
LOST = "lost with the broker: the venue never saw this order's command (broker restarted)"
log = logging.getLogger(__name__)


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
    outbox: deque[tuple[str, str, str]] = deque(maxlen=OUTBOX)  # topic, key, avro base64
    restored = False

    def capture() -> tuple[dict[str, Any], dict[str, int]]:
        state = {"venues": venues.to_state(), "quoter": quoter.to_state(),
                 "incarnation": desk.incarnation, "outbox": list(outbox)}  # fmt: skip
        return state, dict(offsets)

    saver = (
        None
        if checkpoint is None
        else Checkpointer(f"{NAME}-checkpoint", serial, capture, lambda s: checkpoint.save(*s))
    )
    if saver is not None:
        desk.writers.append(saver)

    async def publish(routed: list[Routed], remember: bool = True) -> None:
        for topic, key, event in routed:
            await desk.topics[topic].send(key=key.encode(), value=event)
            EVENTS_OUT.labels(NAME, topic).inc()
            if remember:
                raw = registry().encode(spec(topic).value_schema, event)
                outbox.append((topic, key, base64.b64encode(raw).decode()))

    async def restore() -> None:
        nonlocal restored
        restored = True
        if checkpoint is None:
            return
        saved = await until_done("paper venue checkpoint load", checkpoint.load)
        if saved is not None:
            venues.restore(saved.state["venues"])
            quoter.restore(saved.state["quoter"])
            outbox.extend(tuple(x) for x in saved.state.get("outbox", ()))
            if offsets_valid(saved.incarnation, desk.incarnation):
                offsets.update(saved.offsets)
                return
            log.warning("new broker incarnation (%s, was %s): saved offsets dropped",
                        desk.incarnation, saved.incarnation)  # fmt: skip
            again = [(t, k, registry().decode(base64.b64decode(v))[1]) for t, k, v in outbox]
            await publish(again, remember=False)
        # only orders from before this restart: newer ones may still be on their way here
        clock = venues.clock()
        stored = await until_done(
            "paper venue open orders",
            lambda: checkpoint.open_orders(sorted({v for v, _ in venues.venues}), clock),
        )
        await publish(venues.lost(stored, LOST))

    async def apply(event: Any, step: Callable[[], list[Routed]]) -> None:
        """One input under the lock: restore once, skip what the state holds, apply, send;
        the checkpoint follows behind and acknowledges the input once saved."""
        if saver is not None:
            await saver.room()  # the store is far behind: wait (not holding the lock)
        async with serial:
            if not restored:
                await restore()
            msg = event.message
            where = f"{msg.topic}/{msg.partition}"
            if offsets.get(where, -1) < msg.offset:  # else re-delivered: in the state already
                routed = step()
                offsets[where] = msg.offset
                await publish(routed)
                desk.progressed(NAME, int(event.value.get("ts_event") or 0))
            if saver is None:
                event.ack()
            else:
                await saver.applied([event])

    async def consume(stream: Any, topic: str, step: Callable[[Any], list[Routed]]) -> None:
        async for event in stream.noack().events():
            EVENTS_IN.labels(NAME, topic).inc()
            try:
                await apply(event, lambda e=event: step(e.value))
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
                event.ack()

    @app.agent(commands, name=f"{NAME}-commands")
    async def paper_commands(stream: Any) -> None:
        await consume(stream, "orders.commands", venues.on_command)

    @app.agent(clean, name=f"{NAME}-market")
    async def paper_market(stream: Any) -> None:
        await consume(stream, "market.bars.clean", lambda b: venues.on_bar(b, quoter.quote(b)))
