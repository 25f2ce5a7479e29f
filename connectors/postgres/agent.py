"""Thin Faust agents: the operational topics → PostgreSQL, a batch per transaction.

Offsets are committed only after the batch is in Postgres: batches are written
behind (``streams.writebehind``) and acknowledged once the write succeeded
(transient failures are retried with backoff, forever, and logged), so a crash
re-delivers the batch and the idempotent statements make that harmless. An event
Postgres refuses goes to the dead-letter topic with the reason; the rest of its batch still lands.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.postgres.sink import PostgresSink, is_transient
from connectors.postgres.state import TOPICS
from connectors.retry import until_done
from streams.metrics import EVENTS_IN, SINK_RETRIES, SINK_ROWS
from streams.writebehind import RowBuffer

NAME = "sink-postgres"
BATCH, WITHIN_S = 500, 0.5
log = logging.getLogger(__name__)


def register(desk: Any) -> None:
    if desk.settings.postgres_dsn is None:
        log.warning("no DESK_POSTGRES_DSN: operational state is not written to PostgreSQL")
        return
    dsn = desk.settings.postgres_dsn.get_secret_value()
    for topic in TOPICS:
        _register_topic(desk, topic, PostgresSink(dsn))


def _register_topic(desk: Any, topic: str, sink: PostgresSink) -> None:
    retried = SINK_RETRIES.labels(NAME, topic).inc

    async def write(events: list[Any]) -> None:
        batch = [(topic, e.value) for e in events]
        rejected = await until_done(
            f"postgres write ({topic})",
            lambda: sink.write(batch),
            transient=is_transient,
            on_retry=retried,
        )
        for r in rejected:
            await desk.dead_letter_event(events[r.index], agent=NAME, error=r.error, kind="sink")
        SINK_ROWS.labels(NAME, topic).inc(len(events) - len(rejected))

    # write-behind: a stalled PostgreSQL holds rows here (bounded), not every agent's consumer
    rows = RowBuffer(f"{NAME}-{topic}", write, batch=BATCH)
    desk.writers.append(rows)

    async def consume(stream: Any) -> None:
        async for events in stream.noack().take_events(BATCH, within=WITHIN_S):
            EVENTS_IN.labels(NAME, topic).inc(len(events))
            await rows.add(list(events))

    desk.app.agent(desk.sink_topic(topic), name=f"{NAME}-{topic.replace('.', '-')}")(consume)
