"""Risk commands and gate results → the hash-chained audit log (PostgreSQL), through the
agent shell.

Batches are appended in one transaction, written behind the consumer
(``streams.shell.serve_batches``): offsets are committed after the append returned (an
unreachable PostgreSQL is retried with backoff, forever), and a re-delivered event is
skipped by its id, so every action is recorded exactly once. An event that is not an
auditable action is dead-lettered with the reason; the rest of its batch is appended.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from agents.audit.entries import item_for
from connectors.postgres.audit import AuditLog
from streams.shell import Refused, serve_batches

NAME = "audit"
log = logging.getLogger(__name__)


class AuditWriter:
    """The audit log as the shell's batch writer: each event's item, chained in order."""

    batch, within_s = 100, 0.5

    def __init__(self, log_: AuditLog) -> None:
        self.log = log_

    def transient(self, exc: BaseException) -> bool:
        return True  # whatever stops an append is waited out: the trail must not skip

    def write(self, topic: str, values: Sequence[dict[str, Any]]) -> tuple[int, list[Refused]]:
        items, refused = [], []
        for i, v in enumerate(values):
            try:
                items.append(item_for(topic, v))
            except (KeyError, TypeError, ValueError) as exc:
                refused.append(Refused(i, exc, kind="processing"))
        return len(self.log.append(items)), refused


def register(desk: Any) -> None:
    if desk.settings.postgres_dsn is None:
        log.warning("no DESK_POSTGRES_DSN: the audit trail is not written")
        return
    serve_batches(desk, NAME, AuditWriter(AuditLog(desk.settings.postgres_dsn.get_secret_value())))
