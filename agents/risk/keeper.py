"""Risk's durability in the fused core (``streams.core``): the commands it applies outlive
the worker, the broker and a PostgreSQL outage.

The engine's checkpoint holds risk's state, but it is saved behind the stream, and the
embedded broker forgets its topics when it restarts. So every command risk applies (the
operator's, and portfolio risk's breach) is appended at once to the fsynced command
journal and written to PostgreSQL in the background with what risk made of it (the
``risk_commands`` row, each bot's ``trading_state`` as risk now enforces it: the one place
trading state is derived); until that write lands risk's state is not durable and risk denies new
exposure (``state_durable``), says so in ``desk status`` and raises a CRITICAL alert
once. At start, journaled commands the restored state has not applied are applied
through the engine (their cancels reach the paper venue) and published again for the
audit trail and the sinks, which take each once by event id; the limits in force go to
the audit trail, and the breaches portfolio risk already acted on are latched from it (a
restart does not halt the desk a second time). An unreadable risk command fails risk
closed. Its metrics are set from what the engine emitted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from agents.portfolio_risk.agent import latched_limits, limits_item
from connectors.journal import CommandJournal, journal_path
from connectors.postgres.risk_state import record_outcomes
from streams.envelope import envelope
from streams.ids import event_id
from streams.metrics import (
    RISK_CONDITIONS,
    RISK_DECISIONS,
    RISK_DENIALS,
    RISK_DURABLE,
    RISK_RESERVED,
)

log = logging.getLogger(__name__)
NAME = "risk"


class RiskKeeper:
    """The I/O beside the risk node: journal, PostgreSQL record, status file, alerts."""

    def __init__(self, desk: Any, node: Any, publish: Callable[[str, dict[str, Any]], None]):
        settings = desk.settings
        self.node, self.cfg, self.publish = node, desk.config, publish
        self.journal = CommandJournal(journal_path(settings.data_path, settings.topic_prefix))
        dsn = settings.postgres_dsn
        self.dsn = None if dsn is None else dsn.get_secret_value()
        self.status = settings.risk_status_file
        self.pending: list[dict[str, Any]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.status.unlink(missing_ok=True)  # a new worker: nothing restored yet
        risk = node.risk
        desk.decode_watchers.setdefault("risk.commands", []).append(
            lambda part, offset: risk.unreadable_command(f"risk.commands[{part}]@{offset}")
        )

    # -- start ---------------------------------------------------------------------------

    async def started(self, act: Callable[[Callable[[Any], None]], Awaitable[None]]) -> None:
        """After the core took its checkpoint back: fold in what only the journal has."""
        risk = self.node.risk
        await self.seed_portfolio_risk()
        missing = [c for c in self.journal.read() if c["event_id"] not in risk.applied_commands]
        for cmd in missing:
            await act(lambda ctx, c=cmd: self.node.handle("risk.commands", c, ctx))
            self.publish("risk.commands", cmd)  # the audit trail and the sinks take it once
        self.after([])
        if not self.pending:
            self.write_status(None)

    async def seed_portfolio_risk(self) -> None:
        """The limits in force into the audit trail; the breaches acted on since the last
        confirmed desk-wide RESUME latched from it."""
        core = self.node.risk.portfolio_risk
        if core is None or self.dsn is None:
            return
        from connectors.postgres.audit import AuditLog

        audit = AuditLog(self.dsn)
        item = limits_item(self.cfg.portfolio_risk, int(time.time() * 1000))
        try:
            await asyncio.wait_for(asyncio.to_thread(audit.append, [item]), timeout=5)
            entries = await asyncio.wait_for(
                asyncio.to_thread(lambda: latched_limits(audit.entries("risk_command."))),
                timeout=5,
            )
            core.latch(entries)
        except Exception as exc:  # the breach latches are then re-derived from the books
            log.warning("risk: portfolio-risk latches not read (%s)", exc)

    # -- after each input ----------------------------------------------------------------

    def after(self, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        """What the engine emitted for one input: the commands risk applied made durable,
        its metrics."""
        for outcome in self.node.drain_applied():
            self.make_durable(outcome)
        bots = set()
        for topic, _key, ev in events:
            if topic == "risk.decisions":
                RISK_DECISIONS.labels(ev["bot_id"], ev["decision"]).inc()
                if ev["decision"] == "DENY":
                    for check in denied_by(ev):
                        RISK_DENIALS.labels(ev["bot_id"], check).inc()
                bots.add(ev["bot_id"])
            # (in the engine only risk sends alerts)
            elif topic == "alerts" and ev["bot_id"] and ev["severity"] != "INFO":
                RISK_CONDITIONS.labels(ev["bot_id"], ev["dedup_key"].split(":")[1]).inc()
        for bot_id in bots:
            orders = self.node.risk.exposure.orders.values()
            reserved = sum((w.open_qty * (w.price or 0) for w in orders if w.bot_id == bot_id), 0)
            RISK_RESERVED.labels(bot_id).set(float(reserved))

    async def settle(self) -> None:
        """After an input that applied a command: wait (bounded) for PostgreSQL to take it,
        so the next input is judged durable, as the engine judges it; a slow or stalled
        PostgreSQL costs this wait once per command, then risk carries on fail closed."""
        if self.pending and self.tasks:
            await asyncio.wait(set(self.tasks), timeout=self.cfg.risk.durable_wait_seconds)

    def make_durable(self, outcome: dict[str, Any]) -> None:
        """Journal an applied command at once (fsync); its outcome (a refused one's too) to
        PostgreSQL in the background."""
        cmd = outcome["command"]
        if outcome["refused"] is None:
            try:
                self.journal.append(cmd)
            except OSError as exc:
                log.error("risk: command %s not journaled: %s", cmd["event_id"], exc)
        if self.dsn is None:
            return
        first = not self.pending
        self.pending.append(outcome)
        if first:
            self.write_status(f"command {cmd['command']} {cmd['scope']} not yet in PostgreSQL")
            task = asyncio.ensure_future(self.flush())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def flush(self) -> None:
        """Write the applied commands PostgreSQL lacks, retrying until it takes them."""
        delay, alerted = 0.5, False
        while self.pending:
            batch = list(self.pending)
            try:
                await asyncio.wait_for(
                    asyncio.to_thread(record_outcomes, self.dsn, batch),
                    timeout=self.cfg.risk.restore_timeout_seconds,
                )
            except Exception as exc:  # store down or stalled: stay fail-closed, try again
                log.warning("risk: commands not durable yet (%s); retry in %.1f s", exc, delay)
                if not alerted:  # once per outage; the journal holds them meanwhile
                    alerted = True
                    self.alert(False, f"risk commands not in PostgreSQL: {exc}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            del self.pending[: len(batch)]
        self.write_status(None)
        if alerted:
            self.alert(True, "risk commands and trading states are in PostgreSQL")

    # -- what others see -----------------------------------------------------------------

    def write_status(self, reason: str | None) -> None:
        self.node.risk.durable = reason is None
        RISK_DURABLE.set(1 if reason is None else 0)
        self.status.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status.with_suffix(".tmp")
        body = {"durable": reason is None, "reason": reason, "updated": int(time.time() * 1000)}
        tmp.write_text(json.dumps(body))
        os.replace(tmp, self.status)

    def alert(self, ok: bool, why: str) -> None:
        now = int(time.time() * 1000)
        self.publish("alerts", {
            **envelope(event_id("alert", NAME, "durable", ok, now), self.node.risk.clock or now,
                       "agent.risk", ts_ingest=now),
            "severity": "INFO" if ok else "CRITICAL",
            "dedup_key": "risk:durable",
            "title": "Risk state durable again" if ok else "Risk state NOT durable: fail closed",
            "message": why,
            "bot_id": None,
            "venue": None,
            "symbol": None,
            "evidence": {},
        })  # fmt: skip


def denied_by(decision: dict[str, Any]) -> list[str]:
    """The names of the checks a denial failed (``unspecified`` if it names none)."""
    return sorted({c["name"] for c in decision.get("checks") or () if not c["passed"]}) or [
        "unspecified"
    ]
