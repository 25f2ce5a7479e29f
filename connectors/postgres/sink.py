"""Writes desk events into the operational state, a batch per transaction.

A batch either lands whole or not at all. A *transient* failure (the server
went away, a timeout) is retried by the caller with backoff; a *data* failure
(a value Postgres refuses) splits the batch so that only the bad event is set
aside, with its reason, and every good one still lands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from connectors.postgres.state import OperationalState
from streams.settings import redact_url

log = logging.getLogger(__name__)

Item = tuple[str, Mapping[str, Any]]  # (logical topic, decoded event)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the connection, not the data (``OperationalError``: server gone,
    too many clients, a timeout)."""
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


@dataclass(frozen=True)
class Rejected:
    index: int
    error: str


class PostgresSink:
    """One connection, opened again after a transient failure."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.state = OperationalState()
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, connect_timeout=5)
            log.info("postgres sink connected to %s", redact_url(self.dsn))
        return self._conn

    def write(self, batch: Sequence[Item]) -> list[Rejected]:
        """Write the batch; returns the events Postgres refused (each with one line why).
        Raises only on a transient failure (nothing of the batch is then committed)."""
        conn = self._connection()
        try:
            self._apply(conn, batch)
            return []
        except Exception as exc:
            conn.rollback()
            if is_transient(exc):
                self.close()
                raise
            if len(batch) == 1:
                return [Rejected(0, _one_line(exc))]
        rejected = []  # find the bad ones: the rest must still land
        for i, item in enumerate(batch):
            for r in self.write([item]):
                rejected.append(Rejected(i, r.error))
        return rejected

    def _apply(self, conn: psycopg.Connection, batch: Sequence[Item]) -> None:
        """One transaction, pipelined: the statements go in order without waiting for each
        one's answer (one round trip a batch, not one a row)."""
        with conn.transaction(), conn.pipeline(), conn.cursor() as cur:
            for topic, event in batch:
                for sql, params in self.state.statements(topic, event):
                    cur.execute(sql, params)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"
