"""Prometheus metrics shared by every agent (prometheus-client)."""

from __future__ import annotations

from functools import cache
from typing import Any

from prometheus_client import Counter, Gauge, start_http_server

EVENTS_IN = Counter("desk_events_in_total", "Events consumed by an agent", ["agent", "topic"])
EVENTS_OUT = Counter("desk_events_out_total", "Events produced by an agent", ["agent", "topic"])
DEAD_LETTERS = Counter(
    "desk_dead_letters_total", "Messages sent to the dead-letter topic", ["agent", "topic", "kind"]
)


@cache
def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: a hot loop counts without the lookup."""
    return metric.labels(*labels)


def serve(port: int) -> None:
    """Expose /metrics on ``port`` (0 = off)."""
    if port:
        start_http_server(port, addr="127.0.0.1")


SINK_ROWS = Counter("desk_sink_rows_total", "Events written by a sink", ["agent", "topic"])
SINK_RETRIES = Counter(
    "desk_sink_retries_total", "Sink writes retried after a transient failure", ["agent", "topic"]
)
ALERT_DELIVERIES = Counter(
    "desk_alert_deliveries_total", "Alert delivery attempts by outcome", ["route", "outcome"]
)
RISK_DURABLE = Gauge(
    "desk_risk_state_durable", "1 while risk's trading state is durable; 0: new exposure denied"
)
RISK_RESERVED = Gauge(
    "desk_risk_reserved_notional", "Open approved orders of a bot, at their limit price", ["bot"]
)
RISK_CONDITIONS = Counter(
    "desk_risk_conditions_total", "Bots raised stuck / out_of_bounds / overdue", ["bot", "kind"]
)
RISK_DECISIONS = Counter("desk_risk_decisions_total", "Risk decisions", ["bot", "decision"])
WRITE_BACKLOG = Gauge(
    "desk_write_backlog",
    "Inputs handed to a write-behind writer and not yet in its store",
    ["writer"],
)
AGENT_PROGRESS = Gauge(
    "desk_agent_event_time_ms", "Event time of the last input an agent processed", ["agent"]
)
