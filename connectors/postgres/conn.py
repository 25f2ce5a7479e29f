"""One PostgreSQL connection for an agent's helper, reopened after it is lost.

The agents call these helpers from a thread (``connectors.retry.until_done``); a
lost connection is closed and the error raised, so the retry opens a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import psycopg

T = TypeVar("T")


class Reconnecting:
    def __init__(self, dsn: str, *, autocommit: bool = False) -> None:
        self.dsn, self._autocommit = dsn, autocommit
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, connect_timeout=5, autocommit=self._autocommit)
        return self._conn

    def _call(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """``fn(connection)``; a lost connection is dropped before the error goes up."""
        try:
            return fn(self._connection())
        except (psycopg.OperationalError, psycopg.InterfaceError):
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
