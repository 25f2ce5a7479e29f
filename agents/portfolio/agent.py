"""Thin Faust agents: fills + clean marks → portfolio core → portfolio.snapshots.

State survives a worker restart: every bot's book is written to the
changelog-backed ``portfolio-books`` table after each change and read back
before the first event; the latest snapshot per bot is kept in
``portfolio-latest`` for strategies and risk. Fills are applied once: their
ids are remembered (``portfolio-fills`` and PostgreSQL), so a re-delivered fill
(at-least-once) does not count twice.

The embedded broker can bring a table back short after a restart (its high
watermarks are wrong) and forgets it entirely when it restarts, so the books are
also checkpointed to PostgreSQL with the fills in them (``connectors.postgres.books``),
write-behind (``streams.writebehind``): a PostgreSQL stall delays the checkpoint,
not the books, and the inputs are acknowledged to the broker only once a
checkpoint holding them is saved. A restarted worker takes the newer of the two
books (by ``seq``) and skips fills the saved books hold.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents.portfolio.core import BotBook, Portfolio, PortfolioError, newest_state
from connectors.postgres.books import BookCheckpoint
from connectors.retry import until_done
from streams.app import plain
from streams.metrics import EVENTS_IN, EVENTS_OUT
from streams.writebehind import Checkpointer

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
    saved_fills: set[str] = set()  # fill ids the PostgreSQL checkpoint holds
    new_fills: list[tuple[str, str]] = []  # (fill id, bot) applied, not yet in a checkpoint

    def capture() -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        # every book (a desk has few bots): a failed save loses nothing, the next one has it all
        return [core.books[b].to_state() for b in sorted(core.books)], list(new_fills)

    def save(batch: tuple[list[dict[str, Any]], list[tuple[str, str]]]) -> None:
        assert checkpoint is not None
        checkpoint.save_all(*batch)
        saved_fills.update(f for f, _ in batch[1])
        del new_fills[: len(batch[1])]  # the agent only appends: the saved ones are the oldest

    saver = None if checkpoint is None else Checkpointer(f"{NAME}-checkpoint", serial, capture,
                                                         save)  # fmt: skip
    if saver is not None:
        desk.writers.append(saver)

    async def restore() -> None:
        nonlocal restored
        if restored:
            return
        saved: dict[str, Any] = {}
        if checkpoint is not None:
            saved = await until_done("portfolio checkpoint load", checkpoint.load)
            saved_fills.update(await until_done("portfolio fills load", checkpoint.applied_ids))
        for bot_id in core.books:
            newest = newest_state(books.get(bot_id), saved.get(bot_id))
            if newest is not None:
                core.books[bot_id] = BotBook.from_state(newest)
        restored = True

    async def done(event: Any) -> None:
        if saver is None:
            event.ack()
        else:
            await saver.applied([event])

    async def publish(bot_id: str, cause: dict[str, Any]) -> None:
        snap = core.snapshot(bot_id, int(cause["ts_event"]), cause["ts_ingest"], cause["event_id"])
        books[bot_id] = core.books[bot_id].to_state()
        latest[bot_id] = plain(snap)
        await out.send(key=bot_id.encode(), value=snap)
        EVENTS_OUT.labels(NAME, "portfolio.snapshots").inc()

    @app.agent(fills_topic, name=f"{NAME}-fills")
    async def portfolio_fills(stream: Any) -> None:
        async for event in stream.noack().events():
            EVENTS_IN.labels(NAME, "fills").inc()
            fill = event.value
            if saver is not None:
                await saver.room()  # the store is far behind: wait (not holding the lock)
            async with serial:
                await restore()
                fid = fill["event_id"]
                if applied.get(fid) or fid in saved_fills:
                    await done(event)
                    continue  # re-delivered: already in the books
                try:
                    book = core.on_fill(fill)
                except PortfolioError as exc:
                    await desk.dead_letter_event(event, agent=NAME, error=exc, kind="validation")
                    event.ack()
                    continue
                applied[fid] = True  # in the books now, whatever happens below
                new_fills.append((fid, book.bot_id))
                desk.progressed(f"{NAME}-fills", int(fill["ts_event"]))
                try:
                    await publish(book.bot_id, fill)
                except Exception as exc:  # e.g. a value the schema cannot carry: keep it
                    await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
                await done(event)

    @app.agent(clean_topic, name=f"{NAME}-marks")
    async def portfolio_marks(stream: Any) -> None:
        async for event in stream.noack().events():
            EVENTS_IN.labels(NAME, "market.bars.clean").inc()
            bar = event.value
            if saver is not None:
                await saver.room()
            try:
                async with serial:
                    await restore()
                    for bot_id in core.on_bar(bar):
                        await publish(bot_id, bar)
                    desk.progressed(f"{NAME}-marks", int(bar["ts_event"]))
                    await done(event)
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
                event.ack()
