"""Thin Faust agent: ``alerts`` → the router → the configured routes, every attempt recorded.

A send is retried with backoff and jitter (network errors, 429, 5xx) up to
``alerting.max_attempts``; every attempt, and every de-duplicated or throttled
alert, is a row in ``alert_deliveries``. A re-delivered alert (after a restart)
is not sent again to a route that already has it: the rows say so.

Routes are isolated: a route that fails — a malformed URL, a full disk, a bug in a
sink — is recorded as a ``failed`` outcome with a redacted one-line error, and the
other routes still get the alert. An alert is dead-lettered only when the alert
itself cannot be routed (no route failure ever dead-letters it).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from agents.alerts.router import AlertRouter, Decision, RouteRule
from connectors.alerts.delivery import Deliverer, Outcome
from connectors.feeds.backoff import BackoffPolicy
from connectors.postgres.alerts import DeliveryLog
from connectors.retry import until_done
from streams import redact
from streams.metrics import ALERT_DELIVERIES, EVENTS_IN

NAME = "alerts"
log = logging.getLogger(__name__)


class Sink(Protocol):
    def deliver(self, alert: Mapping[str, Any]) -> Outcome: ...


class Dispatcher:
    """One alert to its routes: the router's decisions, each route's attempts recorded.

    ``deliveries`` is the ``alert_deliveries`` log (None: metrics and log lines only).
    """

    def __init__(
        self,
        router: AlertRouter,
        sinks: Mapping[str, Sink],
        deliveries: DeliveryLog | None = None,
        policy: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.router, self.sinks, self.deliveries = router, sinks, deliveries
        self.policy = policy or BackoffPolicy(base_s=0.5, cap_s=30.0, max_attempts=5)
        self.rng = rng or random.Random()
        self.sleep = sleep

    async def handle(self, alert: dict[str, Any]) -> None:
        """Route and deliver; raises only when the alert itself cannot be routed."""
        for d in self.router.route(alert):
            try:
                await self.deliver(alert, d)
            except Exception as exc:  # the recording broke: log it, the next route goes on
                log.error("alert %s to %s: %s", alert.get("dedup_key"), d.route,
                          redact.error_text(exc))  # fmt: skip

    async def record(self, alert: dict[str, Any], route: str, attempt: int, o: Outcome) -> None:
        ALERT_DELIVERIES.labels(route, o.outcome).inc()
        if o.outcome == "failed":
            log.warning("alert %s to %s: attempt %d failed: %s", alert["dedup_key"], route,
                        attempt, o.error)  # fmt: skip
        if self.deliveries is not None:
            deliveries = self.deliveries
            await until_done("alert delivery record", lambda: deliveries.record(
                alert["event_id"], alert["dedup_key"], route, attempt, o.outcome,
                o.status_code, o.error, o.artifact))  # fmt: skip

    async def attempt(self, alert: dict[str, Any], route: str) -> Outcome:
        """One send; a sink that raises (it should not) is a failed, final outcome."""
        try:
            return await asyncio.to_thread(self.sinks[route].deliver, alert)
        except Exception as exc:
            return Outcome("failed", error=redact.error_text(exc))

    async def deliver(self, alert: dict[str, Any], d: Decision) -> None:
        done_attempts, delivered = 0, False
        if self.deliveries is not None:
            deliveries = self.deliveries
            done_attempts, delivered = await until_done(
                "alert delivery lookup", lambda: deliveries.attempts(alert["event_id"], d.route)
            )
        if delivered:
            return  # a re-delivery: this route has it already
        if d.action != "send":
            await self.record(alert, d.route, done_attempts + 1, Outcome(d.action, error=d.why))
            return
        for attempt in range(done_attempts + 1, self.policy.max_attempts + 1):
            outcome = await self.attempt(alert, d.route)
            await self.record(alert, d.route, attempt, outcome)
            if outcome.outcome != "failed" or not outcome.retry:
                return
            if attempt < self.policy.max_attempts:
                await self.sleep(self.policy.delay(attempt - 1, self.rng))


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
    dispatcher = Dispatcher(router, sinks, deliveries, policy)

    @desk.app.agent(desk.topics["alerts"], name=NAME)
    async def route_alerts(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "alerts").inc()
            try:
                await dispatcher.handle(event.value)
            except Exception as exc:  # an alert the router cannot take: keep it, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
