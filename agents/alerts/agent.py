"""``alerts`` → the router → the configured routes, every attempt recorded.

A send is retried with backoff and jitter (network errors, 429, 5xx) up to
``alerting.max_attempts``; every attempt, and every de-duplicated or throttled
alert, is a row in ``alert_deliveries``. A re-delivered alert (after a restart)
is not sent again to a route that already has it: the rows say so.

The delivery log never holds an alert back: rows are written behind the sends, in
order, retried while PostgreSQL is away (bounded; an overflow is logged), and the
"already delivered?" lookup gives up after ``LOOKUP_TIMEOUT_S`` and sends anyway
(a PostgreSQL outage is when the on-call most needs the alert; a repeat after a
restart in that window is the lesser harm).

Routes are isolated: a route that fails — a malformed URL, a full disk, a bug in a
sink — is recorded as a ``failed`` outcome with a redacted one-line error, and the
other routes still get the alert. An alert is dead-lettered only when the alert
itself cannot be routed (no route failure ever dead-letters it).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from agents.alerts.router import AlertRouter, Decision, RouteRule
from connectors.alerts.delivery import Deliverer, Outcome
from connectors.feeds.backoff import BackoffPolicy
from connectors.postgres.alerts import DeliveryLog
from connectors.retry import until_done
from streams import redact
from streams.metrics import ALERT_DELIVERIES
from streams.shell import serve

NAME = "alerts"
LOOKUP_TIMEOUT_S = 2.0  # "already delivered?" past this: send anyway
SUSPECT_S = 30.0  # after a lookup timed out, do not ask PostgreSQL again for this long
MAX_UNWRITTEN = 10_000  # delivery rows held while PostgreSQL is away
DELIVERED = ("sent", "dry_run", "deduplicated", "throttled")
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
        self._unwritten: deque[tuple[Any, ...]] = deque()  # delivery rows, oldest first
        self._writer: asyncio.Task[None] | None = None
        self._suspect_until = 0.0  # monotonic: the log's lookups are skipped until then

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
        if self.deliveries is None:
            return
        if len(self._unwritten) >= MAX_UNWRITTEN:
            lost = self._unwritten.popleft()
            log.error("alert delivery log: %d rows unwritten, the oldest dropped: alert %s "
                      "to %s attempt %s %s", MAX_UNWRITTEN, *lost[:1], *lost[2:5])  # fmt: skip
        self._unwritten.append((alert["event_id"], alert["dedup_key"], route, attempt,
                                o.outcome, o.status_code, o.error, o.artifact))  # fmt: skip
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        """The unwritten rows, in order, each retried until PostgreSQL takes it."""
        deliveries = self.deliveries
        assert deliveries is not None
        while self._unwritten:
            row = self._unwritten[0]
            await until_done("alert delivery record", lambda r=row: deliveries.record(*r))
            if self._unwritten and self._unwritten[0] is row:
                self._unwritten.popleft()

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait (bounded) for the delivery rows to be written; False if some are not."""
        if self._writer is not None and not self._writer.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), timeout_s)
            except TimeoutError:
                return False
        return not self._unwritten

    async def _previous(self, alert_id: str, route: str) -> tuple[int, bool]:
        """(attempts made, delivered?) for this alert and route: the log plus the rows not
        yet in it; if the log does not answer in time, what is known here."""
        mine = [r for r in self._unwritten if r[0] == alert_id and r[2] == route]
        known = (len(mine), any(r[4] in DELIVERED for r in mine))
        deliveries = self.deliveries
        if deliveries is None or self._unwritten or time.monotonic() < self._suspect_until:
            return known  # the log is behind or away: do not wait on it
        try:
            n, ok = await asyncio.wait_for(
                asyncio.to_thread(deliveries.attempts, alert_id, route), LOOKUP_TIMEOUT_S
            )
        except Exception as exc:
            self._suspect_until = time.monotonic() + SUSPECT_S
            log.warning("alert delivery log unreadable (%s): sending %s to %s anyway",
                        redact.error_text(exc) or "timeout", alert_id, route)  # fmt: skip
            return known
        return n + known[0], ok or known[1]

    async def attempt(self, alert: dict[str, Any], route: str) -> Outcome:
        """One send; a sink that raises (it should not) is a failed, final outcome."""
        try:
            return await asyncio.to_thread(self.sinks[route].deliver, alert)
        except Exception as exc:
            return Outcome("failed", error=redact.error_text(exc))

    async def deliver(self, alert: dict[str, Any], d: Decision) -> None:
        done_attempts, delivered = await self._previous(alert["event_id"], d.route)
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


class AlertsNode:
    """The dispatcher as a node of the agent shell (it emits nothing: routes are not topics)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def handle(self, topic: str, event: dict[str, Any], ctx: Any) -> Awaitable[None]:
        return self.dispatcher.handle(event)


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
    serve(desk, NAME, AlertsNode(Dispatcher(router, sinks, deliveries, policy)))
