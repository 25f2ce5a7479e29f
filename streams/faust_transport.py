"""Faust's Kafka transport with a fetch wait the desk chooses.

Faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` written in. A
broker that wakes a waiting fetch when data arrives (Kafka, Redpanda) answers at
once anyway; the embedded Tansu does not: it answers when the wait ends, so
every hop of the desk (bars → clean → intents → commands → venue) cost a median
0.54 s and up to 1.5 s (``/tmp`` measurement in issue 13's note). At ``x600``
that is ~10 minutes of event time per hop: orders reached the paper venue long
after their bar. ``DESK_BROKER_FETCH_WAIT_MS`` (default 50) bounds it.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # read by AIOKafkaConsumer.start() when it builds its fetcher
        consumer._fetch_max_wait_ms = self.app.conf.desk_fetch_wait_ms  # type: ignore[attr-defined]
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """``kafka://`` with the desk's fetch wait."""

    Consumer = _Consumer


def install(app: Any, fetch_wait_ms: int) -> None:
    """Give ``app`` this transport; before anything asks for ``app.transport``."""
    app.conf.desk_fetch_wait_ms = fetch_wait_ms
    app.transport = Transport(app.conf.broker_consumer, app)
