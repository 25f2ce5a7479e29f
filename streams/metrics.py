"""Prometheus metrics shared by every agent (prometheus-client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from functools import cache
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app

EVENTS_IN = Counter("desk_events_in_total", "Events consumed by an agent", ["agent", "topic"])
EVENTS_OUT = Counter("desk_events_out_total", "Events produced by an agent", ["agent", "topic"])
DEAD_LETTERS = Counter(
    "desk_dead_letters_total", "Messages sent to the dead-letter topic", ["agent", "topic", "kind"]
)


@cache
def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: a hot loop counts without the lookup."""
    return metric.labels(*labels)


_READY = threading.Event()


def mark_ready(ready: bool = True) -> None:
    """``/readyz`` answers 200 once the worker has its partitions (503 before, and again
    while it shuts down)."""
    if ready:
        _READY.set()
    else:
        _READY.clear()


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every 15 s is not a log line


def app(environ: Mapping[str, Any], start_response: Any) -> Iterable[bytes]:
    """``/metrics`` (and any other path: Prometheus' default), ``/healthz`` (the process
    answers), ``/readyz`` (it consumes: partitions assigned, state recovered)."""
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    if path == "/readyz":
        ok = _READY.is_set()
        start_response("200 OK" if ok else "503 Service Unavailable",
                       [("Content-Type", "text/plain")])  # fmt: skip
        return [b"ready\n" if ok else b"starting\n"]
    return _METRICS(environ, start_response)


_METRICS = make_wsgi_app()


def serve(port: int, address: str = "127.0.0.1") -> None:
    """Expose /metrics, /healthz and /readyz on ``address:port`` (port 0 = off)."""
    if not port:
        return
    try:
        server = make_server(address, port, app, _Server, handler_class=_Quiet)
    except OSError as exc:  # a metrics port taken must not stop the worker's trading
        import logging

        logging.getLogger(__name__).warning("metrics not served on %s:%s: %s", address, port, exc)
        return
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()


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
# why: the checks a denial failed, by name (a fixed set: reasons are free text, checks not)
RISK_DENIALS = Counter(
    "desk_risk_denials_total",
    "Denials by the risk check that failed (a denial failing two checks counts under each)",
    ["bot", "check"],
)
WRITE_BACKLOG = Gauge(
    "desk_write_backlog",
    "Inputs handed to a write-behind writer and not yet in its store",
    ["writer"],
)
AGENT_PROGRESS = Gauge(
    "desk_agent_event_time_ms", "Event time of the last input an agent processed", ["agent"]
)
PROCESSING = Histogram(
    "desk_processing_seconds",
    "Wall time an agent took over one input (the desk core: every node it ran)",
    ["agent"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SINK_BATCH = Histogram(
    "desk_sink_batch_rows", "Events in a sink's write", ["agent", "topic"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)  # fmt: skip
SINK_WRITE_SECONDS = Histogram(
    "desk_sink_write_seconds", "Wall time of a sink's write to its store", ["agent", "topic"]
)
CONSUMER_LAG = Gauge(
    "desk_consumer_lag",
    "Messages of an assigned partition not yet committed",
    ["topic", "partition"],
)
STREAM_SEEN = Gauge(
    "desk_stream_last_seen_timestamp_seconds",
    "Wall time a clean bar of the stream last went through (freshness: time() - this)",
    ["stream"],
)
STREAM_EVENT_TIME = Gauge(
    "desk_stream_event_time_seconds", "Event time of the stream's last clean bar", ["stream"]
)
TRADING_STATE = Gauge(
    "desk_trading_state",
    "1 for the bot's trading state in risk's latest decision",
    ["bot", "state"],
)
CHECK_STATUS = Gauge(
    "desk_check_status",
    "1 for the latest status of a check (reconciliation, parity, data quality)",
    ["check", "status"],
)
CHECK_SEEN = Gauge(
    "desk_check_last_report_timestamp_seconds",
    "Wall time of a check's last report (its age: time() - this)",
    ["check"],
)
_CHECKS = {"recon.reports": ("reconciliation", "severity"), "parity.reports": ("parity", "status"),
           "dq.reports": ("data quality", "severity")}  # fmt: skip
_STATES: dict[str, str] = {}
_CHECK_WORD: dict[str, str] = {}


def observe(topic: str, event: Mapping[str, Any]) -> None:
    """What the desk's outputs tell about its health, as gauges: stream freshness, each
    bot's trading state, each check's latest word and its age."""
    now = time.time()
    if topic == "market.bars.clean":
        stream = f"{event.get('venue')}:{event.get('symbol')}"
        child(STREAM_SEEN, stream).set(now)
        child(STREAM_EVENT_TIME, stream).set(int(event.get("ts_event") or 0) / 1000)
    elif topic == "risk.decisions":
        _one_hot(TRADING_STATE, _STATES, str(event.get("bot_id")), str(event.get("trading_state")))
    elif topic in _CHECKS:
        check, field = _CHECKS[topic]
        _one_hot(CHECK_STATUS, _CHECK_WORD, check, str(event.get(field) or ""))
        child(CHECK_SEEN, check).set(now)


def _one_hot(gauge: Any, held: dict[str, str], key: str, word: str) -> None:
    """``gauge{key, word}`` = 1 for the latest word of ``key``, its previous word set to 0."""
    before = held.get(key)
    if before != word:
        if before is not None:
            child(gauge, key, before).set(0)
        child(gauge, key, word).set(1)
        held[key] = word
