"""Thin Faust agents: ``dq.reports`` and ``deadletter`` → ``alerts`` (agents/alerts/sources.py).

``alerts-dq`` raises an alert for every data-quality finding at or above
``alerting.dq_min_severity``; ``alerts-deadletter`` raises one per dead-letter burst.
Both read their topic as a sink does (an undecodable message is dead-lettered by the
agent that owns the topic, not twice). The burst watcher never dead-letters anything
itself: a dead letter about the dead-letter watcher would feed the watcher.
"""

from __future__ import annotations

import logging
from typing import Any

from agents.alerts.sources import DeadLetterBursts, dq_alert
from streams.metrics import EVENTS_IN, EVENTS_OUT
from streams.redact import error_text

NAME_DQ = "alerts-dq"
NAME_DL = "alerts-deadletter"
log = logging.getLogger(__name__)


def register(desk: Any) -> None:
    a = desk.config.alerting
    alerts = desk.topics["alerts"]

    async def publish(agent: str, alert: dict[str, Any]) -> None:
        await alerts.send(key=alert["source"].encode(), value=alert)
        EVENTS_OUT.labels(agent, "alerts").inc()

    if a.dq_min_severity != "OFF":

        @desk.app.agent(desk.sink_topic("dq.reports"), name=NAME_DQ)
        async def dq_alerts(stream: Any) -> None:
            async for event in stream.events():
                EVENTS_IN.labels(NAME_DQ, "dq.reports").inc()
                try:
                    alert = dq_alert(event.value, a.dq_min_severity)
                except Exception as exc:  # a bad report must not stop the alerts
                    await desk.dead_letter_event(event, agent=NAME_DQ, error=exc,
                                                 kind="processing")  # fmt: skip
                    continue
                if alert is not None:
                    await publish(NAME_DQ, alert)

    bursts = DeadLetterBursts(
        window_ms=a.deadletter_burst_window_seconds * 1000,
        warning=a.deadletter_burst_warning,
        critical=a.deadletter_burst_critical,
    )

    @desk.app.agent(desk.sink_topic("deadletter"), name=NAME_DL)
    async def deadletter_bursts(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME_DL, "deadletter").inc()
            try:
                alert = bursts.observe(event.value)
                if alert is not None:
                    await publish(NAME_DL, alert)
            except Exception as exc:  # never dead-letter here (it would feed this agent)
                log.error("dead-letter burst check failed: %s", error_text(exc))
