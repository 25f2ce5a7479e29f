"""Every catalog topic → its ClickHouse table, in batches, through the agent shell.

Batches of up to 1,000 events or 1 s, written behind the consumer
(``streams.shell.serve_batches``): an unreachable store is retried with backoff,
forever, and counted, and only then is the batch acknowledged, so offsets are
committed after the insert and a slow store holds rows in a bounded buffer instead
of stalling every agent of the worker. A re-delivered batch inserts nothing (the sink
skips ids the table holds). An event the table cannot take goes to ``deadletter``
with the reason. The worker reaches an embedded store through its owner, the stack
process (``DESK_STORE_ENDPOINT``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from connectors.clickhouse.sink import ClickHouseSink, Rejected
from connectors.clickhouse.store import OwnerStore, Store, StoreUnavailable
from streams.shell import serve_batches

NAME = "sink-clickhouse"
log = logging.getLogger(__name__)


class ClickHouseWriter:
    """``ClickHouseSink`` as the shell's batch writer."""

    batch, within_s = 1000, 1.0

    def __init__(self, store: Store) -> None:
        self.sink = ClickHouseSink(store)

    def transient(self, exc: BaseException) -> bool:
        return isinstance(exc, StoreUnavailable)

    def write(self, topic: str, values: Sequence[dict[str, Any]]) -> tuple[int, list[Rejected]]:
        return self.sink.write(topic, values)


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
    serve_batches(desk, NAME, ClickHouseWriter(store))
