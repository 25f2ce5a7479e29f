"""The analytics store's schema: versioned migrations on chDB or a ClickHouse server.

The same DDL runs on both. ClickHouse has no transactional DDL, so every
statement is written to be re-runnable (``IF NOT EXISTS``): a migration cut
short is simply applied again, and only then recorded in ``schema_migrations``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from analytics.events import EVENT_TABLES
from connectors.migrations import Migration, load, pending

MIGRATIONS = Path(__file__).with_name("migrations")

_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
    "checksum String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version"
)


def statements(sql: str) -> list[str]:
    """The statements of a migration file (``;`` ends a statement at the end of a line)."""
    out = []
    for chunk in sql.split(";\n"):
        body = "\n".join(
            line for line in chunk.splitlines() if not line.strip().startswith("--")
        ).strip()
        if body:
            out.append(body.rstrip(";"))
    return out


def applied(client: Any) -> dict[int, str]:
    """Version -> checksum of every applied migration."""
    client.command(_LEDGER)
    rows = client.query("SELECT version, checksum FROM schema_migrations").result_rows
    return {int(v): c for v, c in rows}


def migrate(client: Any, directory: Path = MIGRATIONS) -> list[Migration]:
    """Apply what is pending, in order; returns what ran (empty: nothing to apply)."""
    todo = pending(load(directory), applied(client), "clickhouse")
    for m in todo:
        for stmt in statements(m.sql):
            client.command(stmt)
        client.insert(
            "schema_migrations", [[m.version, m.name, m.checksum]],
            column_names=["version", "name", "checksum"],
        )  # fmt: skip
    return todo


_TTL = re.compile(
    r"TTL toDateTime\(fromUnixTimestamp64Milli\(ts_event\)\) \+ toIntervalDay\((\d+)\)"
)


def ttl_days(client: Any) -> dict[str, int]:
    """Event table -> days of event time it keeps (tables kept forever are left out)."""
    rows = client.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase()"
    ).result_rows
    out = {}
    for name, ddl in rows:
        m = _TTL.search(ddl)
        if name in EVENT_TABLES and m:
            out[name] = int(m.group(1))
    return out


def apply_retention(client: Any, retention: dict[str, int]) -> dict[str, int]:
    """Set each event table's TTL to ``retention[table]`` days of *event time* (0 or absent:
    keep forever). Only tables whose TTL differs are altered, so a second run does nothing.
    Rows past their TTL go at the next merge: a replay of an older window needs a longer
    retention than the live desk. Returns the retention now in force."""
    if not isinstance(retention, dict) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in retention.values()
    ):
        raise ValueError("retention: a mapping of event table -> days (an integer >= 0)")
    unknown = sorted(set(retention) - EVENT_TABLES)
    if unknown:
        raise ValueError(f"retention for unknown table(s): {', '.join(unknown)}")
    now = ttl_days(client)
    for table in sorted(EVENT_TABLES):
        want = retention.get(table, 0)
        if now.get(table, 0) == want:
            continue
        if want:
            client.command(
                f"ALTER TABLE {table} MODIFY TTL "
                f"toDateTime(fromUnixTimestamp64Milli(ts_event)) + toIntervalDay({int(want)})"
            )
        else:
            client.command(f"ALTER TABLE {table} REMOVE TTL")
    return ttl_days(client)


def schema_version(client: Any) -> int:
    return max(applied(client), default=0)
