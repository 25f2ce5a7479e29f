"""Thin Faust agent: market.bars.clean → every bot's strategy → orders.intents.

A bot's view (position, equity) is its latest snapshot in the portfolio's
``portfolio-latest`` table. The stream is arrival-ordered: a fill still in
flight is not in the view yet, exactly as with a real venue; risk judges every
intent against the books it has. A bar the runner will not give its strategies
(an impossible value) or a strategy that raised is dead-lettered with the
reason; the stream and the other bots carry on.
"""

from __future__ import annotations

from typing import Any

from agents.strategies.runner import StrategyRunner
from streams.metrics import EVENTS_IN, EVENTS_OUT

NAME = "strategies"


def register(desk: Any) -> None:
    app = desk.app
    source, sink = desk.topics["market.bars.clean"], desk.topics["orders.intents"]
    latest = desk.table("portfolio-latest", help="Per bot: the latest PortfolioSnapshot.")
    runner = StrategyRunner(desk.config)

    @app.agent(source, name=NAME)
    async def strategies(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "market.bars.clean").inc()
            try:
                for it in runner.on_bar(event.value, latest.get):
                    await sink.send(key=f"{it['bot_id']}:{it['symbol']}".encode(), value=it)
                    EVENTS_OUT.labels(NAME, "orders.intents").inc()
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
            # a bar skipped (bad value) or a bot whose strategy raised (state restored): one
            # dead letter per kind (its id is the input's offset and the kind)
            by_kind: dict[str, list[str]] = {}
            for kind, why in runner.drain_skipped():
                by_kind.setdefault(kind, []).append(why)
            for kind, whys in by_kind.items():
                await desk.dead_letter_event(event, agent=NAME, error="; ".join(whys), kind=kind)
