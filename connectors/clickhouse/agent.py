"""Thin Faust agents: every catalog topic → its ClickHouse table, in batches.

Batches of up to 1,000 events or 1 s, written behind (``streams.writebehind``):
the consumer hands the batch over and goes on; the writer inserts it (an
unreachable store is retried with backoff, forever, and counted) and only then
acknowledges it, so offsets are committed after the insert and a slow store
holds rows in a bounded buffer instead of stalling every agent of the worker. A
re-delivered batch inserts nothing (the sink skips ids the table holds). An event the table
cannot take goes to ``deadletter`` with the reason. The worker reaches an
embedded store through its owner, the stack process (``DESK_STORE_ENDPOINT``).
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any

from connectors.clickhouse.sink import ClickHouseSink
from connectors.clickhouse.store import OwnerStore, Store, StoreUnavailable
from connectors.retry import until_done
from streams.metrics import EVENTS_IN, SINK_RETRIES, SINK_ROWS
from streams.topics import CATALOG
from streams.writebehind import RowBuffer

NAME = "sink-clickhouse"
BATCH, WITHIN_S = 1000, 1.0
log = logging.getLogger(__name__)


def store_for_worker(desk: Any) -> Store | None:
    endpoint = os.environ.get("DESK_STORE_ENDPOINT")
    if endpoint:
        return OwnerStore(endpoint)
    if desk.settings.clickhouse_url is not None:
        from connectors.clickhouse.store import DirectStore
        from streams.runtime.clickhouse import connect

        dsn = desk.settings.clickhouse_url.get_secret_value()
        return DirectStore(connect(dsn), chdb=dsn.startswith("chdb://"))
    return None


def register(desk: Any) -> None:
    store = store_for_worker(desk)
    if store is None:
        log.warning("no analytics store for this worker: events are not written to ClickHouse")
        return
    sink = ClickHouseSink(store)
    for spec in CATALOG:
        _register_topic(desk, spec.name, sink)


def _register_topic(desk: Any, topic: str, sink: ClickHouseSink) -> None:
    retried = SINK_RETRIES.labels(NAME, topic).inc

    async def write(events: list[Any]) -> None:
        values = [e.value for e in events]
        inserted, rejected = await until_done(
            f"clickhouse insert ({topic})",
            partial(sink.write, topic, values),
            transient=lambda exc: isinstance(exc, StoreUnavailable),
            on_retry=retried,
        )
        for r in rejected:
            if topic == "deadletter":  # never dead-letter a dead letter (no loops)
                log.error("dead letter not stored in ClickHouse: %s", r.error)
                continue
            await desk.dead_letter_event(events[r.index], agent=NAME, error=r.error,
                                         kind="sink")  # fmt: skip
        SINK_ROWS.labels(NAME, topic).inc(inserted)

    # write-behind: a slow store holds rows here (bounded), not the consumer every agent shares
    rows = RowBuffer(f"{NAME}-{topic}", write, batch=BATCH)
    desk.writers.append(rows)

    async def consume(stream: Any) -> None:
        async for batch in stream.noack().take_events(BATCH, within=WITHIN_S):
            events = list(batch)
            EVENTS_IN.labels(NAME, topic).inc(len(events))
            await rows.add(events)

    desk.app.agent(desk.sink_topic(topic), name=f"{NAME}-{topic.replace('.', '-')}")(consume)
