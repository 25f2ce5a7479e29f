"""Thin Faust agents: fills, orders.events and venue.reports → reconciliation →
recon.reports, alerts and (critical findings) REDUCE commands.

The three topics are keyed by venue account, so one account's events meet in one
worker. The reconciler is shared under a lock. A restarted worker re-baselines
each account on its next report (``Reconciler(rebaseline=True)``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agents.recon.desk import follow_ups, reconciler
from streams.metrics import EVENTS_IN, EVENTS_OUT

NAME = "recon"


def wall_ms() -> int:
    """The arrival clock for the stream's graces (findings stay in event time)."""
    return int(time.time() * 1000)


def register(desk: Any) -> None:
    recon = reconciler(desk.config, rebaseline=True)
    serial = asyncio.Lock()

    async def publish(topic: str, event: dict[str, Any], key: str) -> None:
        await desk.topics[topic].send(key=key.encode(), value=event)
        EVENTS_OUT.labels(NAME, topic).inc()

    def consumer(topic: str, apply: Any) -> None:
        async def consume(stream: Any) -> None:
            async for event in stream.events():
                EVENTS_IN.labels(NAME, topic).inc()
                try:
                    async with serial:
                        apply(event.value)
                except Exception as exc:  # a bug must not stop the desk: keep it, carry on
                    await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")

        desk.app.agent(desk.sink_topic(topic), name=f"{NAME}-{topic.replace('.', '-')}")(consume)

    consumer("fills", lambda f: recon.on_fill(f, wall_ms()))
    consumer("orders.events", recon.on_order_event)

    @desk.app.agent(desk.sink_topic("venue.reports"), name=f"{NAME}-reports")
    async def reports(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "venue.reports").inc()
            try:
                async with serial:
                    found = recon.on_report(event.value, wall_ms())
                for r in found:
                    account = f"{r['venue']}:{r['account']}"
                    await publish("recon.reports", r, account)
                    for topic, out in follow_ups(desk.config, r):
                        await publish(topic, out, out.get("scope") or out["source"])
            except Exception as exc:  # a bug must not stop the desk: keep it, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
