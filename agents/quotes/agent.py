"""Thin Faust agent: market.bars.clean → synthetic quotes → market.quotes.

Every quote passes the quote gate (``agents.dq.containment.QuoteGate``) first: a
quote that cannot be real (non-finite, <= 0, crossed, absurd, unknown stream,
far future) is dead-lettered with its reason, never published.
"""

from __future__ import annotations

from typing import Any

from agents.dq.containment import QuoteGate
from agents.quotes.core import SyntheticQuoter
from streams.metrics import EVENTS_IN, EVENTS_OUT

NAME = "quotes-synthetic"


def register(desk: Any) -> None:
    app = desk.app
    source, sink = desk.topics["market.bars.clean"], desk.topics["market.quotes"]
    core = SyntheticQuoter(desk.config.market_data)
    gate = QuoteGate.from_config(desk.config)

    @app.agent(source, name=NAME)
    async def synthetic_quotes(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "market.bars.clean").inc()
            try:
                quote = core.quote(event.value)
                rejection = None if quote is None else gate.check(quote)
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
                continue
            if rejection is not None:  # the bar it came from is kept, with the reason
                await desk.dead_letter_event(
                    event, agent=NAME, error=rejection.line(), kind="validation"
                )
                continue
            if quote is not None:
                await sink.send(key=event.key, value=quote)
                EVENTS_OUT.labels(NAME, "market.quotes").inc()
