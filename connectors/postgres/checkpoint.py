"""An agent's checkpoint in PostgreSQL: its state and the input offsets that state reflects.

Offsets number records only on the broker that numbered them: the state also
carries the broker incarnation (``streams.incarnation``) they belong to, and a
restarted agent skips re-delivered inputs by offset only on the same broker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.postgres.conn import Reconnecting


@dataclass(frozen=True)
class Saved:
    state: dict[str, Any]
    offsets: dict[str, int]  # "topic/partition" -> offset of the last input in ``state``

    @property
    def incarnation(self) -> str | None:
        """The broker life the offsets belong to (None: saved before incarnations)."""
        return self.state.get("incarnation")


class AgentCheckpoint(Reconnecting):
    """Synchronous (run it in a thread from an agent); one connection, reopened on loss."""

    table = "agent_checkpoints"

    def __init__(self, dsn: str, name: str) -> None:
        super().__init__(dsn, autocommit=True)
        self.name = name

    def load(self) -> Saved | None:
        sql = f"SELECT state, offsets FROM {self.table} WHERE name = %s"
        row = self._call(lambda c: c.execute(sql, (self.name,)).fetchone())
        return None if row is None else Saved(row[0], {k: int(v) for k, v in row[1].items()})

    def save(self, state: Mapping[str, Any], offsets: Mapping[str, int]) -> None:
        sql = (
            f"INSERT INTO {self.table} AS s (name, saves, offsets, state, updated_at)"
            " VALUES (%s, 1, %s, %s, now()) ON CONFLICT (name) DO UPDATE SET"
            " saves = s.saves + 1, offsets = EXCLUDED.offsets, state = EXCLUDED.state,"
            " updated_at = now()"
        )
        args = (self.name, json.dumps(dict(offsets)), json.dumps(state))
        self._call(lambda c: c.execute(sql, args))
