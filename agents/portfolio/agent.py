"""Thin Faust agents: fills + clean marks → portfolio core → portfolio.snapshots.

State survives a worker restart: every bot's book is written to the
changelog-backed ``portfolio-books`` table after each change and read back
before the first event; the latest snapshot per bot is kept in
``portfolio-latest`` for strategies and risk. Fills are applied once: their
ids are remembered in ``portfolio-fills``, so a re-delivered fill (at-least-once)
does not count twice.

The embedded broker can bring a table back short after a restart (its high
watermarks are wrong), so each change is also checkpointed to PostgreSQL with the
fill that caused it (``connectors.postgres.books``): a restarted worker takes the
newer of the two books (by ``seq``) and skips fills Postgres already holds. A
Postgres outage stalls the books (retried with backoff) rather than losing them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents.portfolio.core import BotBook, Portfolio, PortfolioError, newest_state
from connectors.postgres.books import BookCheckpoint
from connectors.retry import until_done
from streams.app import plain
from streams.metrics import EVENTS_IN, EVENTS_OUT

NAME = "portfolio"


def register(desk: Any) -> None:
    app = desk.app
    fills_topic, clean_topic = desk.topics["fills"], desk.topics["market.bars.clean"]
    out = desk.topics["portfolio.snapshots"]
    books = desk.table("portfolio-books", help="Per bot: cash, positions, PnL state (exact).")
    latest = desk.table("portfolio-latest", help="Per bot: the latest PortfolioSnapshot.")
    applied = desk.table("portfolio-fills", help="Fill event ids already in the books.")
    core = Portfolio.from_config(desk.config)
    dsn = desk.settings.postgres_dsn
    checkpoint = None if dsn is None else BookCheckpoint(dsn.get_secret_value())
    restored = False
    serial = asyncio.Lock()  # the two agents share the books: snapshots go out in book order

    async def restore() -> None:
        nonlocal restored
        if restored:
            return
        saved = (
            {}
            if checkpoint is None
            else await until_done("portfolio checkpoint load", checkpoint.load)
        )
        for bot_id in core.books:
            newest = newest_state(books.get(bot_id), saved.get(bot_id))
            if newest is not None:
                core.books[bot_id] = BotBook.from_state(newest)
        restored = True

    async def already_applied(fill_id: str) -> bool:
        if applied.get(fill_id):
            return True
        if checkpoint is None:
            return False
        return await until_done("portfolio checkpoint lookup", lambda: checkpoint.applied(fill_id))

    async def publish(bot_id: str, cause: dict[str, Any], fill_id: str | None = None) -> None:
        snap = core.snapshot(bot_id, int(cause["ts_event"]), cause["ts_ingest"], cause["event_id"])
        state = core.books[bot_id].to_state()
        if checkpoint is not None:
            await until_done("portfolio checkpoint save", lambda: checkpoint.save(state, fill_id))
        books[bot_id] = state
        latest[bot_id] = plain(snap)
        await out.send(key=bot_id.encode(), value=snap)
        EVENTS_OUT.labels(NAME, "portfolio.snapshots").inc()

    @app.agent(fills_topic, name=f"{NAME}-fills")
    async def portfolio_fills(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "fills").inc()
            fill = event.value
            async with serial:
                await restore()
                if await already_applied(fill["event_id"]):
                    continue  # re-delivered: already in the books
                try:
                    book = core.on_fill(fill)
                except PortfolioError as exc:
                    await desk.dead_letter_event(event, agent=NAME, error=exc, kind="validation")
                    continue
                applied[fill["event_id"]] = True  # in the books now, whatever happens below
                try:
                    await publish(book.bot_id, fill, fill["event_id"])
                except Exception as exc:  # e.g. a value the schema cannot carry: keep it
                    await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")

    @app.agent(clean_topic, name=f"{NAME}-marks")
    async def portfolio_marks(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "market.bars.clean").inc()
            bar = event.value
            try:
                async with serial:
                    await restore()
                    for bot_id in core.on_bar(bar):
                        await publish(bot_id, bar)
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
