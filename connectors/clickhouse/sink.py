"""Events → their ClickHouse table, exactly once per ``event_id``.

A batch is encoded (an event its table cannot take is set aside with the
reason), the ids the table already holds are skipped (a re-delivered batch
inserts nothing), and the rest goes in as one ``JSONEachRow`` insert. If the
store refuses the insert, the batch is split in halves until the bad event is
found: it is set aside, every good one lands. A store that cannot be reached
raises :class:`StoreUnavailable` and nothing is half-done: the caller retries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analytics.events import RowEncoder, canonical_json, existing_ids_sql
from connectors.clickhouse.store import Store, StoreRefused


@dataclass(frozen=True)
class Rejected:
    index: int
    error: str


class ClickHouseSink:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._encoders: dict[str, RowEncoder] = {}

    def encoder(self, topic: str) -> RowEncoder:
        if topic not in self._encoders:
            self._encoders[topic] = RowEncoder(topic)
        return self._encoders[topic]

    def write(self, topic: str, events: Sequence[Mapping[str, Any]]) -> tuple[int, list[Rejected]]:
        """Insert what the table lacks; returns (rows inserted, events set aside)."""
        enc = self.encoder(topic)
        rejected: list[Rejected] = []
        rows: list[tuple[int, dict[str, Any]]] = []
        for i, event in enumerate(events):
            try:
                rows.append((i, enc.row(event)))
            except (ValueError, TypeError, KeyError) as exc:
                rejected.append(Rejected(i, f"{type(exc).__name__}: {exc}"))
        fresh: dict[str, tuple[int, dict[str, Any]]] = {}
        for i, row in rows:
            fresh.setdefault(row["event_id"], (i, row))  # a duplicate inside the batch: once
        if fresh:
            ts = [int(r["ts_event"]) for _i, r in fresh.values()]
            held = self.store.query(existing_ids_sql(enc.table, fresh, min(ts), max(ts)))
            for (event_id,) in held.rows:
                fresh.pop(event_id, None)
        inserted = self._insert(enc.table, list(fresh.values()), rejected)
        return inserted, sorted(rejected, key=lambda r: r.index)

    def _insert(
        self, table: str, rows: list[tuple[int, dict[str, Any]]], rejected: list[Rejected]
    ) -> int:
        if not rows:
            return 0
        body = b"".join(canonical_json(r).encode() + b"\n" for _i, r in rows)
        try:
            self.store.insert(table, body)
            return len(rows)
        except StoreRefused as exc:
            if len(rows) == 1:
                rejected.append(Rejected(rows[0][0], f"refused by ClickHouse: {exc}"))
                return 0
        half = len(rows) // 2
        return self._insert(table, rows[:half], rejected) + self._insert(
            table, rows[half:], rejected
        )
