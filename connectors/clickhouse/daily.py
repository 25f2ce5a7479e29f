"""End-of-day prices in the analytics store (``analytics/migrations/0004``), beside
PostgreSQL's copy, so the on-call SQL sees them with every event."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.clickhouse.store import Store

CHUNK = 20_000
COLUMNS = ("symbol", "day", "source", "adj_close", "close", "volume")


def save_prices(store: Store, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert the rows (keys as in PostgreSQL); a re-run writes the same keys, which
    ``FINAL`` reads once. Returns the rows sent."""
    for i in range(0, len(rows), CHUNK):
        body = "\n".join(
            json.dumps({k: r[k] for k in COLUMNS}, separators=(",", ":"))
            for r in rows[i : i + CHUNK]
        )
        store.insert("market_prices_eod", body.encode())
    return len(rows)


def count_prices(store: Store) -> int:
    res = store.query("SELECT count() FROM market_prices_eod FINAL")
    return int(res.rows[0][0])
