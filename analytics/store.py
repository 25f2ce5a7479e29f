"""The analytics store's schema: versioned migrations on chDB or a ClickHouse server.

The same DDL runs on both. ClickHouse has no transactional DDL, so every
statement is written to be re-runnable (``IF NOT EXISTS``): a migration cut
short is simply applied again, and only then recorded in ``schema_migrations``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def schema_version(client: Any) -> int:
    return max(applied(client), default=0)
