"""Thin Faust agent: market.bars → core → market.bars.clean, counting in a table."""

from __future__ import annotations

from typing import Any

from agents.bars.core import BarPassThrough, InvalidBar
from streams.metrics import EVENTS_IN, EVENTS_OUT
from streams.topics import spec, stream_key

NAME = "bars-passthrough"


def register(desk: Any) -> None:
    app = desk.app
    source, sink = desk.topics["market.bars"], desk.topics["market.bars.clean"]
    seen = app.Table(
        "bars-seen",
        default=int,
        partitions=spec("market.bars").partitions,
        help="Bars seen per venue:symbol.",
    )
    core = BarPassThrough()

    @app.agent(source, name=NAME)
    async def bars_passthrough(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "market.bars").inc()
            try:
                bar = core.process(event.value)
            except InvalidBar as exc:
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="validation")
                continue
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
                continue
            seen[stream_key(bar)] += 1
            await sink.send(key=event.key, value=bar)
            EVENTS_OUT.labels(NAME, "market.bars.clean").inc()
