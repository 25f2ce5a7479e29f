"""Thin Faust agent: risk commands and gate results → the hash-chained audit log (Postgres).

Batches are appended in one transaction; offsets are committed after the append
returned (an unreachable Postgres is retried with backoff, forever), and a
re-delivered event is skipped by its id, so every action is recorded exactly once.
"""

from __future__ import annotations

import logging
from typing import Any

from agents.audit.entries import AUDITED_TOPICS, item_for
from connectors.postgres.audit import AuditLog
from connectors.retry import until_done
from streams.metrics import EVENTS_IN, SINK_RETRIES, SINK_ROWS
from streams.writebehind import RowBuffer

NAME = "audit"
log = logging.getLogger(__name__)


def register(desk: Any) -> None:
    if desk.settings.postgres_dsn is None:
        log.warning("no DESK_POSTGRES_DSN: the audit trail is not written")
        return
    audit = AuditLog(desk.settings.postgres_dsn.get_secret_value())
    for topic in AUDITED_TOPICS:
        _register_topic(desk, topic, audit)


def _register_topic(desk: Any, topic: str, audit: AuditLog) -> None:
    retried = SINK_RETRIES.labels(NAME, topic).inc

    async def write(events: list[Any]) -> None:
        items = []
        for e in events:
            try:
                items.append(item_for(topic, e.value))
            except (KeyError, TypeError, ValueError) as exc:
                await desk.dead_letter_event(e, agent=NAME, error=exc, kind="processing")
        written = await until_done(
            f"audit append ({topic})", lambda i=items: audit.append(i), on_retry=retried
        )
        SINK_ROWS.labels(NAME, topic).inc(len(written))

    # write-behind (streams.writebehind): a stalled PostgreSQL delays the trail, not the desk;
    # a batch is acknowledged once appended, so a crash re-delivers what is not in the chain
    rows = RowBuffer(f"{NAME}-{topic}", write, batch=100)
    desk.writers.append(rows)

    async def consume(stream: Any) -> None:
        async for batch in stream.noack().take_events(100, within=0.5):
            events = list(batch)
            EVENTS_IN.labels(NAME, topic).inc(len(events))
            await rows.add(events)

    desk.app.agent(desk.sink_topic(topic), name=f"{NAME}-{topic.replace('.', '-')}")(consume)
