"""Thin Faust agent: portfolio.snapshots → desk-wide limits → alerts + risk.commands.

A breach latches until a confirmed desk-wide RESUME is seen on ``risk.commands``.
The books are seeded from ``portfolio-latest`` before the first snapshot, so a
restarted worker measures the whole desk at once, and the breaches already acted
on are read back from the audit trail (a restart does not halt the desk twice).
The limits in force are written to the audit trail once per version and content
at start.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from agents.audit.chain import Entry
from agents.portfolio_risk.core import ISSUER, PortfolioRiskCore
from connectors.postgres.audit import AuditLog
from connectors.retry import until_done
from streams.ids import event_id
from streams.metrics import EVENTS_IN, EVENTS_OUT

NAME = "portfolio-risk"
log = logging.getLogger(__name__)


def limits_item(limits: Any, now_ms: int) -> dict[str, Any]:
    """The audit item for the limits in force (one per version and content)."""
    body = limits.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {
        "event_id": event_id("portfolio_risk_limits", limits.version, digest),
        "ts_event": now_ms,
        "kind": "limit_change.portfolio_risk",
        "actor": "config",
        "subject": "desk",
        "body": body | {"sha256": digest},
    }


def latched_limits(entries: Iterable[Entry]) -> set[str]:
    """The limits portfolio risk acted on since the last confirmed desk-wide RESUME, as the
    audit trail has it: a restarted agent does not halt the desk a second time."""
    latched: set[str] = set()
    for e in entries:
        if e.kind == "risk_command.RESUME" and e.subject == "desk" and e.body.get("confirmed"):
            latched.clear()
        elif e.actor == ISSUER and "limit" in e.body.get("evidence", {}):
            latched.add(e.body["evidence"]["limit"])
    return latched


def register(desk: Any) -> None:
    limits = desk.config.portfolio_risk
    if limits is None:
        log.warning("no portfolio_risk limits in the config: desk-wide limits are off")
        return
    core = PortfolioRiskCore(limits)
    latest = desk.table("portfolio-latest", help="Per bot: the latest PortfolioSnapshot.")
    dsn = desk.settings.postgres_dsn
    audit = None if dsn is None else AuditLog(dsn.get_secret_value())
    started = False

    async def start() -> None:
        nonlocal started
        if started:
            return
        for bot in desk.config.bots:
            snap = latest.get(bot.id)
            if snap is not None:
                core.books[bot.id] = snap
        if audit is not None:
            item = limits_item(limits, int(time.time() * 1000))
            await until_done("audit the portfolio limits", lambda: audit.append([item]))
            core.latch(
                await until_done(
                    "read the latches from the audit trail",
                    lambda: latched_limits(audit.entries("risk_command.")),
                )
            )
        started = True

    serial = asyncio.Lock()  # the two agents share the core

    @desk.app.agent(desk.sink_topic("risk.commands"), name=f"{NAME}-commands")
    async def resumes(stream: Any) -> None:
        async for event in stream.events():
            cmd = event.value
            if cmd["command"] == "RESUME" and cmd["confirmed"] and cmd["scope"] == "desk":
                async with serial:
                    core.resume()

    @desk.app.agent(desk.topics["portfolio.snapshots"], name=NAME)
    async def portfolio_risk(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "portfolio.snapshots").inc()
            try:
                await start()
                async with serial:
                    actions = core.on_snapshot(event.value)
                for topic, out in actions:
                    key = out["scope"] if topic == "risk.commands" else out["source"]
                    await desk.topics[topic].send(key=key.encode(), value=out)
                    EVENTS_OUT.labels(NAME, topic).inc()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
