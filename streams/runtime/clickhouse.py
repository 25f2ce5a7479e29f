"""ClickHouse: chDB in-process (``chdb:///path``) or a server over HTTP, one client API.

chDB locks its data path: only one process may open it. The process running the
stack owns it; other processes reach it through the owner (see the stack's
query endpoint) or open it directly when nothing runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import clickhouse_connect

from streams.errors import DeskError
from streams.runtime.health import PartHealth
from streams.settings import redact_url


def connect(dsn: str) -> Any:
    """A clickhouse-connect client for a ``chdb:///path`` or ``http(s)://`` DSN."""
    if dsn.startswith("chdb://"):
        Path(dsn.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    try:
        return clickhouse_connect.get_client(dsn=dsn)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DeskError(f"ClickHouse {redact_url(dsn)}: {first}") from None


class ClickHouse:
    """Holds the client for the stack's lifetime (and with chDB, the data-path lock)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.mode = "embedded" if dsn.startswith("chdb://") else "external"
        self.client: Any = None

    def start(self, timeout_s: float = 30.0) -> None:
        self.client = connect(self.dsn)

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def health(self) -> PartHealth:
        endpoint = redact_url(self.dsn)
        if self.client is None:
            return PartHealth("clickhouse", self.mode, False, "not started", endpoint)
        t0 = time.perf_counter()
        try:
            version = self.client.query("SELECT version()").result_rows[0][0]
        except Exception as exc:
            return PartHealth("clickhouse", self.mode, False, str(exc).splitlines()[0], endpoint)
        ms = (time.perf_counter() - t0) * 1000
        return PartHealth(
            "clickhouse", self.mode, True, f"ClickHouse {version}, query in {ms:.0f} ms", endpoint
        )
