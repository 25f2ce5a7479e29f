"""The operational topics → PostgreSQL, a batch per transaction, through the agent shell.

``streams.shell.serve_batches`` writes each batch behind the consumer and commits
offsets only once it is in PostgreSQL (transient failures retried with backoff,
forever, and logged), so a crash re-delivers the batch and the idempotent statements
make that harmless. An event PostgreSQL refuses goes to the dead-letter topic with
the reason; the rest of its batch still lands.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from connectors.postgres.sink import PostgresSink, Rejected, is_transient
from connectors.postgres.state import TOPICS
from streams.shell import serve_batches

NAME = "sink-postgres"
log = logging.getLogger(__name__)


class PostgresWriter:
    """``PostgresSink`` as the shell's batch writer; one per topic (each has its connection)."""

    batch, within_s = 500, 0.5

    def __init__(self, dsn: str) -> None:
        self.sinks = {topic: PostgresSink(dsn) for topic in TOPICS}

    def transient(self, exc: BaseException) -> bool:
        return is_transient(exc)

    def write(self, topic: str, values: Sequence[dict[str, Any]]) -> tuple[int, list[Rejected]]:
        rejected = self.sinks[topic].write([(topic, v) for v in values])
        return len(values) - len(rejected), rejected


def register(desk: Any) -> None:
    if desk.settings.postgres_dsn is None:
        log.warning("no DESK_POSTGRES_DSN: operational state is not written to PostgreSQL")
        return
    serve_batches(desk, NAME, PostgresWriter(desk.settings.postgres_dsn.get_secret_value()))
