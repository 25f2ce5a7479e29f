"""``dq.reports`` and ``deadletter`` → ``alerts`` (agents/alerts/sources.py), in the agent shell.

``alerts-dq`` raises an alert for every data-quality finding at or above
``alerting.dq_min_severity``; ``alerts-deadletter`` raises one per dead-letter burst.
Both read their topic as a sink does (an undecodable message is dead-lettered by the
agent that owns the topic, not twice). The burst watcher never dead-letters anything
itself (the shell logs its failures instead): a dead letter about the dead-letter
watcher would feed the watcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.alerts.sources import DeadLetterBursts, dq_alert
from streams.shell import serve

NAME_DQ = "alerts-dq"
NAME_DL = "alerts-deadletter"


class DqAlerts:
    """A data-quality report at or above ``min_severity`` → one alert."""

    def __init__(self, min_severity: str) -> None:
        self.min_severity = min_severity

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Any) -> None:
        alert = dq_alert(event, self.min_severity)
        if alert is not None:
            ctx.emit("alerts", alert)


class DeadLetterWatch:
    """Dead letters → one alert per burst (``DeadLetterBursts``)."""

    def __init__(self, bursts: DeadLetterBursts) -> None:
        self.bursts = bursts

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Any) -> None:
        alert = self.bursts.observe(event)
        if alert is not None:
            ctx.emit("alerts", alert)


def register(desk: Any) -> None:
    a = desk.config.alerting
    if a.dq_min_severity != "OFF":
        serve(desk, NAME_DQ, DqAlerts(a.dq_min_severity))
    bursts = DeadLetterBursts(
        window_ms=a.deadletter_burst_window_seconds * 1000,
        warning=a.deadletter_burst_warning,
        critical=a.deadletter_burst_critical,
    )
    serve(desk, NAME_DL, DeadLetterWatch(bursts))
