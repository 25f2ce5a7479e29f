"""Thin Faust agents around ``RiskDesk``: one core, five inputs, one lock.

* ``orders.intents`` → decisions (+ the approved order on ``orders.commands``);
* ``risk.commands`` (kill, halt, reduce, resume, limit change) → trading states + cancels;
* ``fills`` and ``orders.events`` → risk's own books and reserved exposure;
* ``portfolio.snapshots`` → portfolio risk (desk-wide limits), whose breach
  command is applied here before the next intent and then published.

An intent waits (up to ``risk.sync_wait_seconds`` of wall time) until the books
of its event time have been measured; after that it is judged as *ahead of its
inputs* and only a reducing order passes. Risk never waits on PostgreSQL to
decide: it reads its state once at start (bounded by ``restore_timeout_seconds``)
and, if that fails or a command cannot be written, it stays fail-closed (new
exposure denied), says so in ``desk status`` and raises a CRITICAL alert, and
retries in the background. Every command it applies is also appended to the
local command journal (fsynced), so a kill survives a restart with PostgreSQL
down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from agents.portfolio_risk.agent import latched_limits, limits_item
from agents.risk.desk import RiskDesk
from agents.risk.state import BotState, newest
from connectors.journal import CommandJournal, journal_path
from connectors.postgres.checkpoint import AgentCheckpoint
from connectors.postgres.risk_state import RiskRestore, load_risk_state, record_commands
from streams.ids import event_id
from streams.incarnation import offsets_valid
from streams.metrics import (
    EVENTS_IN,
    EVENTS_OUT,
    RISK_CONDITIONS,
    RISK_DECISIONS,
    RISK_DURABLE,
    RISK_RESERVED,
)
from streams.writebehind import Checkpointer

NAME = "risk"
log = logging.getLogger(__name__)


def status_path(desk: Any) -> Any:
    return desk.settings.data_path / "state" / f"{desk.settings.topic_prefix}risk-status.json"


def register(desk: Any) -> None:
    app, cfg, settings = desk.app, desk.config, desk.settings
    intents, commands_in = desk.topics["orders.intents"], desk.topics["risk.commands"]
    decisions, commands = desk.topics["risk.decisions"], desk.topics["orders.commands"]
    alerts = desk.topics["alerts"]
    states = desk.table("risk-trading-state", help="Per bot: ACTIVE/REDUCING/HALTED, kill latch.")
    latest = desk.table("portfolio-latest", help="Per bot: the latest PortfolioSnapshot.")
    freshness = desk.tables.get("dq-freshness")
    risk = RiskDesk(cfg)
    risk.wall_clock = time.monotonic
    journal = CommandJournal(journal_path(settings.data_path, settings.topic_prefix))
    dsn = None if settings.postgres_dsn is None else settings.postgres_dsn.get_secret_value()
    serial = asyncio.Lock()  # one event at a time through the core, sends included
    started = asyncio.Lock()
    restored = False
    pending: list[dict[str, Any]] = []  # commands applied but not yet in PostgreSQL
    behind = False  # the last intent gave up waiting for its books: do not wait again at length
    tasks: set[asyncio.Task[Any]] = set()
    # risk's own books follow its own inputs: saved with their offsets, acked once saved
    checkpoint_name = f"{settings.topic_prefix}risk"
    checkpoint = None if dsn is None else AgentCheckpoint(dsn, checkpoint_name)
    offsets: dict[str, int] = {}  # "topic/partition" -> last fill / order event in the books

    def capture() -> tuple[dict[str, Any], dict[str, int]]:
        return risk.checkpoint() | {"incarnation": desk.incarnation}, dict(offsets)

    saver = (
        None
        if checkpoint is None
        else Checkpointer(f"{NAME}-checkpoint", serial, capture, lambda s: checkpoint.save(*s))
    )
    if saver is not None:
        desk.writers.append(saver)

    def background(coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    desk.decode_watchers.setdefault("risk.commands", []).append(
        lambda partition, offset: risk.unreadable_command(f"risk.commands[{partition}]@{offset}")
    )
    status_path(desk).unlink(missing_ok=True)  # a new worker: nothing restored yet

    def fresh(venue: str, symbol: str) -> Mapping[str, Mapping[str, Any]] | None:
        return freshness.get(f"{venue}:{symbol}") if freshness is not None else None

    # -- durability ---------------------------------------------------------------------------

    def write_status(reason: str | None) -> None:
        risk.durable = reason is None
        RISK_DURABLE.set(1 if risk.durable else 0)
        path = status_path(desk)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        body = {"durable": risk.durable, "reason": reason, "updated": int(time.time() * 1000)}
        tmp.write_text(json.dumps(body))
        os.replace(tmp, path)

    async def durability_alert(ok: bool, why: str) -> None:
        now = int(time.time() * 1000)
        alert = {
            "event_id": event_id("alert", NAME, "durable", ok, now),
            "ts_event": risk.clock or now,
            "ts_ingest": now,
            "source": "agent.risk",
            "correlation_id": None,
            "severity": "INFO" if ok else "CRITICAL",
            "dedup_key": "risk:durable",
            "title": "Risk state durable again" if ok else "Risk state NOT durable: fail closed",
            "message": why,
            "bot_id": None,
            "venue": None,
            "symbol": None,
            "evidence": {},
        }
        await alerts.send(key=b"agent.risk", value=alert)

    async def flush_pending() -> None:
        """Write the applied commands PostgreSQL lacks, retrying until it takes them."""
        delay, alerted = 0.5, False
        while pending:
            batch = list(pending)
            try:
                await asyncio.wait_for(
                    asyncio.to_thread(record_commands, dsn, cfg, batch),
                    timeout=cfg.risk.restore_timeout_seconds,
                )
            except Exception as exc:  # store down or stalled: stay fail-closed, try again
                log.warning("risk: commands not durable yet (%s); retry in %.1f s", exc, delay)
                if not alerted:  # once per outage; the journal holds them meanwhile
                    alerted = True
                    await durability_alert(False, f"risk commands not in PostgreSQL: {exc}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            del pending[: len(batch)]
        write_status(None)
        if alerted:
            await durability_alert(True, "risk commands and trading states are in PostgreSQL")

    def make_durable(cmd: Mapping[str, Any]) -> None:
        """Journal the command at once (fsync); PostgreSQL in the background."""
        try:
            journal.append(cmd)
        except OSError as exc:
            log.error("risk: command %s not journaled: %s", cmd["event_id"], exc)
        if dsn is None:
            return
        first = not pending
        pending.append(dict(cmd))
        if first:
            write_status(f"command {cmd['command']} {cmd['scope']} not yet in PostgreSQL")
            background(flush_pending())

    # -- start --------------------------------------------------------------------------------

    async def load() -> RiskRestore | None:
        if dsn is None:
            return RiskRestore()
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(load_risk_state, dsn, name=checkpoint_name),
                timeout=cfg.risk.restore_timeout_seconds,
            )
        except Exception as exc:
            log.error("risk: PostgreSQL unreadable at start (%s): fail closed", exc)
            return None

    async def retry_restore() -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            pg = await load()
            if pg is not None:
                async with serial:
                    merge_states(pg.trading_states)
                    take_back(pg)
                    risk.applied_commands |= pg.command_ids
                if not pending:
                    write_status(None)
                    await durability_alert(True, "PostgreSQL readable: risk state restored")
                return
            delay = min(delay * 2, 10.0)

    def take_back(pg: RiskRestore) -> None:
        """Risk's own checkpoint when it has one (exact: its offsets say which fills and
        order events it holds); else the portfolio's books (a desk from before it)."""
        saved = pg.checkpoint
        if saved is None:
            risk.restore(pg.books, pg.applied_fills, pg.open_orders)
            return
        risk.restore_checkpoint(saved.state, pg.open_orders)
        if offsets_valid(saved.incarnation, desk.incarnation):
            offsets.update(saved.offsets)
        else:  # a broker that started empty: what is re-published is known by its id
            log.warning("risk: new broker incarnation (%s, was %s): saved offsets dropped",
                        desk.incarnation, saved.incarnation)  # fmt: skip

    def merge_states(persisted: Mapping[str, Mapping[str, Any]]) -> None:
        for bot_id in risk.states.bots:
            state = newest(states.get(bot_id), persisted.get(bot_id))
            current = risk.states.bots[bot_id]
            if state is not None and (state.since or -1) > (current.since or -1):
                risk.states.bots[bot_id] = state

    def fold_journal(known: set[str]) -> list[dict[str, Any]]:
        """Apply journaled commands newer than each bot's state; those PostgreSQL lacks."""
        missing = []
        for cmd in journal.read():
            if cmd["event_id"] in known:
                continue
            missing.append(cmd)
            for bot_id in risk.states.scope(cmd["scope"]):
                st: BotState = risk.states.bots[bot_id]
                if (st.since or -1) < cmd["ts_event"]:
                    risk.states.apply({**cmd, "scope": f"bot:{bot_id}"})
        return missing

    async def restore() -> None:
        nonlocal restored
        if restored:
            return
        async with started:
            if restored:
                return
            pg = await load()
            async with serial:
                for bot_id in risk.states.bots:
                    table_state = states.get(bot_id)
                    if table_state is not None:
                        risk.states.bots[bot_id] = BotState.from_dict(table_state)
                known: set[str] = set()
                if pg is not None:
                    merge_states(pg.trading_states)
                    take_back(pg)
                    known = pg.command_ids
                missing = fold_journal(known)
                risk.applied_commands |= known | {c["event_id"] for c in missing}
                await seed_portfolio_risk()
            if pg is None:
                write_status("PostgreSQL unreadable at start: trading state unknown")
                await durability_alert(False, "PostgreSQL unreadable at start: new exposure"
                                       " denied until risk state is restored")  # fmt: skip
                background(retry_restore())
            else:
                write_status(None)
            for cmd in missing:  # the audit trail and the sink take each once, by event id
                await commands_in.send(key=cmd["scope"].encode(), value=cmd)
                if dsn is not None:
                    pending.append(cmd)
            async with serial:
                for order in risk.reassert():  # a halt in force cancels what the venue kept
                    await send_order(order)
            if pending and pg is not None:
                write_status("journaled commands not yet in PostgreSQL")
                background(flush_pending())
            restored = True

    async def seed_portfolio_risk() -> None:
        core = risk.portfolio_risk
        if core is None:
            return
        for bot in cfg.bots:
            snap = latest.get(bot.id)
            if snap is not None:
                core.books[bot.id] = snap
        if dsn is None:
            return
        from connectors.postgres.audit import AuditLog

        audit = AuditLog(dsn)
        item = limits_item(cfg.portfolio_risk, int(time.time() * 1000))
        try:
            await asyncio.wait_for(asyncio.to_thread(audit.append, [item]), timeout=5)
            entries = await asyncio.wait_for(
                asyncio.to_thread(lambda: latched_limits(audit.entries("risk_command."))),
                timeout=5,
            )
            core.latch(entries)
        except Exception as exc:  # the breach latches are then re-derived from the books
            log.warning("risk: portfolio-risk latches not read (%s)", exc)

    # -- sends --------------------------------------------------------------------------------

    async def send_order(cmd: dict[str, Any]) -> None:
        await commands.send(key=f"{cmd['venue']}:{cmd['account']}".encode(), value=cmd)
        EVENTS_OUT.labels(NAME, "orders.commands").inc()

    async def send_alerts() -> None:
        for alert in risk.drain_alerts():
            if alert["severity"] != "INFO" and alert["bot_id"]:
                RISK_CONDITIONS.labels(alert["bot_id"], alert["dedup_key"].split(":")[1]).inc()
            await alerts.send(key=alert["source"].encode(), value=alert)
            EVENTS_OUT.labels(NAME, "alerts").inc()

    def after_command(cmd: Mapping[str, Any], bots: tuple[str, ...]) -> None:
        """Keep the changed states in the changelog table; make the command durable."""
        for bot_id in bots:
            states[bot_id] = risk.states.bots[bot_id].as_dict()
        make_durable(cmd)

    def gauges(bot_id: str) -> None:
        reserved = sum(
            (w.open_qty * (w.price or 0) for w in risk.exposure.orders.values()
             if w.bot_id == bot_id),
            0,
        )  # fmt: skip
        RISK_RESERVED.labels(bot_id).set(float(reserved))

    # -- agents -------------------------------------------------------------------------------

    async def synced(it: Mapping[str, Any]) -> str | None:
        """Wait for the books of the intent's event time; why not, if they never came."""
        nonlocal behind
        why = risk.ready(it)
        if why is None:
            behind = False
            return None
        limit = 0.2 if behind else cfg.risk.sync_wait_seconds
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while why is not None and loop.time() < deadline:
            await asyncio.sleep(0.005)
            why = risk.ready(it)
        behind = why is not None
        return why

    @app.agent(intents, name=f"{NAME}-pretrade")
    async def pretrade(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "orders.intents").inc()
            await restore()
            it = event.value
            try:
                blocked = await synced(it)
                async with serial:
                    decision, command = risk.decide(it, fresh, blocked)
                    if command is not None:
                        await send_order(command)
                    await decisions.send(key=event.key, value=decision)
                    await send_alerts()
                EVENTS_OUT.labels(NAME, "risk.decisions").inc()
                RISK_DECISIONS.labels(it["bot_id"], decision["decision"]).inc()
                gauges(it["bot_id"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no decision means no order: the intent is dead-lettered
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")

    @app.agent(commands_in, name=f"{NAME}-commands")
    async def risk_commands(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "risk.commands").inc()
            await restore()
            cmd = event.value
            async with serial:
                applied, orders = risk.command(cmd)
                for c in orders:
                    await send_order(c)
            if applied.refused:
                log.warning("risk command %s %s refused: %s", cmd["command"], cmd["scope"],
                            applied.refused)  # fmt: skip
                continue
            after_command(applied.command, applied.bots)
            log.warning("risk command %s %s by %s applied to %s", cmd["command"], cmd["scope"],
                        cmd["issued_by"], ", ".join(applied.bots))  # fmt: skip

    def books_input(topic_name: str, apply: Any) -> None:
        """Fills and order events into risk's books. Their first consumer (portfolio,
        venues) dead-letters what is bad; here a bad one is logged and skipped."""

        async def consume(stream: Any) -> None:
            async for event in stream.noack().events():
                EVENTS_IN.labels(NAME, topic_name).inc()
                await restore()
                if saver is not None:
                    await saver.room()  # the store is far behind: wait (not holding the lock)
                try:
                    async with serial:
                        msg = event.message
                        where = f"{msg.topic}/{msg.partition}"
                        if offsets.get(where, -1) < msg.offset:  # else in the books already
                            apply(event.value)
                            offsets[where] = msg.offset
                            await send_alerts()
                        if saver is None:
                            event.ack()
                        else:
                            await saver.applied([event])  # acked once a checkpoint holds it
                    gauges(event.value["bot_id"])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # never stop risk on one bad event
                    log.error("risk: %s event skipped: %s", topic_name, exc)
                    event.ack()

        app.agent(desk.sink_topic(topic_name), name=f"{NAME}-{topic_name.replace('.', '-')}")(
            consume
        )

    books_input("fills", risk.on_fill)
    books_input("orders.events", risk.on_order_event)

    @app.agent(desk.sink_topic("portfolio.snapshots"), name=f"{NAME}-portfolio")
    async def snapshots(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "portfolio.snapshots").inc()
            await restore()
            try:
                async with serial:
                    actions, orders = risk.on_snapshot(event.value)
                    for c in orders:  # a breach's cancels before anything else is judged
                        await send_order(c)
                    for topic, out in actions:
                        key = out["scope"] if topic == "risk.commands" else out["source"]
                        await desk.topics[topic].send(key=key.encode(), value=out)
                        EVENTS_OUT.labels(NAME, topic).inc()
                for topic, out in actions:
                    if topic == "risk.commands":
                        after_command(out, risk.states.scope(out["scope"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
