"""Thin Faust agent: ``alerts`` → the router → the configured routes, every attempt recorded.

A send is retried with backoff and jitter (network errors, 429, 5xx) up to
``alerting.max_attempts``; every attempt, and every de-duplicated or throttled
alert, is a row in ``alert_deliveries``. A re-delivered alert (after a restart)
is not sent again to a route that already has it: the rows say so.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from agents.alerts.router import AlertRouter, Decision, RouteRule
from connectors.alerts.delivery import Deliverer, Outcome
from connectors.feeds.backoff import BackoffPolicy
from connectors.postgres.alerts import DeliveryLog
from connectors.retry import until_done
from streams.metrics import ALERT_DELIVERIES, EVENTS_IN

NAME = "alerts"
log = logging.getLogger(__name__)


def register(desk: Any) -> None:
    cfg = desk.config
    if not cfg.alert_routes:
        log.warning("no alert_routes in the config: alerts stay on the topic")
        return
    a = cfg.alerting
    router = AlertRouter(
        [RouteRule(r.name, r.min_severity) for r in cfg.alert_routes],
        dedup_window_ms=a.dedup_window_seconds * 1000,
        throttle_window_ms=a.throttle_window_seconds * 1000,
        max_per_window=a.max_per_route_per_window,
    )
    sinks = {r.name: Deliverer(r, desk.settings.data_path) for r in cfg.alert_routes}
    dsn = desk.settings.postgres_dsn
    deliveries = None if dsn is None else DeliveryLog(dsn.get_secret_value())
    policy = BackoffPolicy(base_s=0.5, cap_s=30.0, max_attempts=a.max_attempts)
    rng = random.Random()

    async def record(alert: dict[str, Any], route: str, attempt: int, o: Outcome) -> None:
        ALERT_DELIVERIES.labels(route, o.outcome).inc()
        if o.outcome == "failed":
            log.warning("alert %s to %s: attempt %d failed: %s", alert["dedup_key"], route,
                        attempt, o.error)  # fmt: skip
        if deliveries is not None:
            await until_done("alert delivery record", lambda: deliveries.record(
                alert["event_id"], alert["dedup_key"], route, attempt, o.outcome,
                o.status_code, o.error, o.artifact))  # fmt: skip

    async def deliver(alert: dict[str, Any], d: Decision) -> None:
        done_attempts, delivered = 0, False
        if deliveries is not None:
            done_attempts, delivered = await until_done(
                "alert delivery lookup", lambda: deliveries.attempts(alert["event_id"], d.route)
            )
        if delivered:
            return  # a re-delivery: this route has it already
        if d.action != "send":
            await record(alert, d.route, done_attempts + 1, Outcome(d.action, error=d.why))
            return
        for attempt in range(done_attempts + 1, policy.max_attempts + 1):
            outcome = await asyncio.to_thread(sinks[d.route].deliver, alert)
            await record(alert, d.route, attempt, outcome)
            if outcome.outcome != "failed" or not outcome.retry:
                return
            if attempt < policy.max_attempts:
                await asyncio.sleep(policy.delay(attempt - 1, rng))

    @desk.app.agent(desk.topics["alerts"], name=NAME)
    async def route_alerts(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "alerts").inc()
            alert = event.value
            try:
                decisions = router.route(alert)
                for d in decisions:
                    await deliver(alert, d)
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
