"""Thin Faust agent: market.bars.clean → synthetic quotes → market.quotes."""

from __future__ import annotations

from typing import Any

from agents.quotes.core import SyntheticQuoter
from streams.metrics import EVENTS_IN, EVENTS_OUT

NAME = "quotes-synthetic"


def register(desk: Any) -> None:
    app = desk.app
    source, sink = desk.topics["market.bars.clean"], desk.topics["market.quotes"]
    core = SyntheticQuoter(desk.config.market_data)

    @app.agent(source, name=NAME)
    async def synthetic_quotes(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "market.bars.clean").inc()
            try:
                quote = core.quote(event.value)
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
                continue
            if quote is not None:
                await sink.send(key=event.key, value=quote)
                EVENTS_OUT.labels(NAME, "market.quotes").inc()
