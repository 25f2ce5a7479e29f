"""Thin Faust agents: orders.intents → pre-trade risk → risk.decisions + orders.commands,
and risk.commands (kill, halt, reduce, resume, limit change) → trading states + cancels.

Trading states live in the changelog-backed ``risk-trading-state`` table and in
PostgreSQL (``trading_state``, written by the Postgres sink); a restarted worker
takes, per bot, the later of the two, so a kill survives a restart of any process.
Inputs risk cannot see (no snapshot, no clean mark, unknown bot) reach the core as
unknown: it denies with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agents.risk.desk import RiskDesk
from agents.risk.state import newest
from connectors.postgres.state import saved_trading_states
from connectors.retry import until_done
from streams.metrics import EVENTS_IN, EVENTS_OUT
from streams.topics import stream_key

NAME = "risk"
log = logging.getLogger(__name__)


def register(desk: Any) -> None:
    app = desk.app
    intents, commands_in = desk.topics["orders.intents"], desk.topics["risk.commands"]
    decisions, commands = desk.topics["risk.decisions"], desk.topics["orders.commands"]
    states = desk.table("risk-trading-state", help="Per bot: ACTIVE/REDUCING/HALTED, kill latch.")
    latest = desk.table("portfolio-latest", help="Per bot: the latest PortfolioSnapshot.")
    freshness = desk.tables.get("dq-freshness")
    risk = RiskDesk(desk.config)
    restored = False
    # One decision at a time, commands included: an order approved before a kill must be on
    # orders.commands before the kill's cancel-all (same partition), never after it.
    serial = asyncio.Lock()

    dsn = desk.settings.postgres_dsn

    async def restore() -> None:
        nonlocal restored
        if restored:
            return
        persisted: dict[str, dict[str, Any]] = {}
        if dsn is not None:
            persisted = await until_done(
                "risk: load trading states",
                lambda: saved_trading_states(dsn.get_secret_value()),
            )
        for bot_id in risk.states.bots:
            state = newest(states.get(bot_id), persisted.get(bot_id))
            if state is not None:
                risk.states.bots[bot_id] = state
        restored = True

    async def send_command(cmd: dict[str, Any]) -> None:
        await commands.send(key=f"{cmd['venue']}:{cmd['account']}".encode(), value=cmd)
        EVENTS_OUT.labels(NAME, "orders.commands").inc()

    @app.agent(intents, name=f"{NAME}-pretrade")
    async def pretrade(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "orders.intents").inc()
            await restore()
            it = event.value
            fresh = freshness.get(stream_key(it)) if freshness is not None else None
            try:
                async with serial:
                    decision, command = risk.decide(it, latest.get(it["bot_id"]), fresh)
                    if command is not None:
                        await send_command(command)
                    await decisions.send(key=event.key, value=decision)
                EVENTS_OUT.labels(NAME, "risk.decisions").inc()
            except Exception as exc:  # no decision means no order: the intent is dead-lettered
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")

    @app.agent(commands_in, name=f"{NAME}-commands")
    async def risk_commands(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "risk.commands").inc()
            await restore()
            cmd = event.value
            async with serial:
                books = {b: latest.get(b) for b in risk.states.bots} if cmd["flatten"] else None
                applied, cancels = risk.command(cmd, books)
                for c in cancels:
                    await send_command(c)
            if applied.refused:
                log.warning("risk command %s %s refused: %s", cmd["command"], cmd["scope"],
                            applied.refused)  # fmt: skip
                continue
            for bot_id in applied.bots:
                states[bot_id] = risk.states.bots[bot_id].as_dict()
            log.warning("risk command %s %s by %s applied to %s", cmd["command"], cmd["scope"],
                        cmd["issued_by"], ", ".join(applied.bots))  # fmt: skip
