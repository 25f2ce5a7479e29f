"""The analytics store's tables exported and re-imported exactly (ClickHouse ``Native``
format: every type as stored, decimals, arrays, maps and unmerged duplicates included),
through a client this process owns (a chDB data dir with no desk running, or a server)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from streams.errors import DeskError


def tables(client: Any) -> list[str]:
    """The store's tables (views are re-created by the migrations, not backed up)."""
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine NOT LIKE '%View%' ORDER BY name"
    ).result_rows
    return [r[0] for r in rows]


def export(client: Any, out: Path) -> dict[str, dict[str, Any]]:
    """``<out>/<table>.native`` per table; returns rows and sha256 per table."""
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for t in tables(client):
        body = client.raw_query(f"SELECT * FROM `{t}`", fmt="Native")
        (out / f"{t}.native").write_bytes(body)
        rows = int(client.query(f"SELECT count() FROM `{t}`").result_rows[0][0])
        made[t] = {"rows": rows, "sha256": hashlib.sha256(body).hexdigest()}
    return made


def load(client: Any, src: Path, manifest: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Each backed-up table emptied and filled with its export; returns the rows now in
    each. A table the store does not have (a newer desk's) is an error before any change."""
    have = set(tables(client))
    missing = sorted(set(manifest) - have)
    if missing:
        raise DeskError(f"the analytics store has no table {missing[0]}: restore with the "
                        "desk version that made the backup (or newer)")  # fmt: skip
    got = {}
    for t in sorted(manifest):
        body = (src / f"{t}.native").read_bytes()
        client.command(f"TRUNCATE TABLE `{t}`")
        if manifest[t]["rows"]:
            client.raw_insert(t, insert_block=body, fmt="Native",
                              settings={"max_partitions_per_insert_block": 10000})  # fmt: skip
        got[t] = int(client.query(f"SELECT count() FROM `{t}`").result_rows[0][0])
    return got
