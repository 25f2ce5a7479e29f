"""The paper venue agent's checkpoint in PostgreSQL: every paper account, and the inputs in it.

The venue's state lives in the worker's memory; without this a restarted worker
would bring the paper accounts back empty (no balances, no positions, the
resting orders gone) while the desk's books carry on: every venue report after
the restart would disagree with the desk. The state is saved with the offset of
the last input applied per topic partition *and the broker incarnation those
offsets belong to* (``streams.incarnation``): a restarted agent skips the
re-delivered inputs the saved state already holds, but only on the same broker;
a broker that started empty numbers its records from 0 again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.postgres.conn import Reconnecting

_SAVE = """
INSERT INTO paper_venue_state AS s (name, saves, offsets, state, updated_at)
VALUES (%s, 1, %s, %s, now())
ON CONFLICT (name) DO UPDATE SET
    saves = s.saves + 1, offsets = EXCLUDED.offsets, state = EXCLUDED.state, updated_at = now()
"""

_OPEN = """
SELECT client_order_id, venue, account, bot_id, symbol, side, order_type, quantity,
       limit_price, decision_id AS correlation_id
FROM orders WHERE status IN ('PENDING', 'ACCEPTED', 'PARTIALLY_FILLED') AND venue = ANY(%s)
  AND created_ts <= %s
ORDER BY created_ts, client_order_id
"""


@dataclass(frozen=True)
class SavedVenue:
    state: dict[str, Any]
    offsets: dict[str, int]  # "topic/partition" -> offset of the last input in ``state``

    @property
    def incarnation(self) -> str | None:
        """The broker life the offsets belong to (None: saved before incarnations)."""
        return self.state.get("incarnation")


class VenueCheckpoint(Reconnecting):
    """Synchronous (run it in a thread from an agent); one connection, reopened on loss."""

    def __init__(self, dsn: str, name: str = "paper") -> None:
        super().__init__(dsn, autocommit=True)
        self.name = name

    def load(self) -> SavedVenue | None:
        row = self._call(
            lambda c: c.execute(
                "SELECT state, offsets FROM paper_venue_state WHERE name = %s", (self.name,)
            ).fetchone()
        )
        return None if row is None else SavedVenue(row[0], {k: int(v) for k, v in row[1].items()})

    def save(self, state: Mapping[str, Any], offsets: Mapping[str, int]) -> None:
        self._call(
            lambda c: c.execute(_SAVE, (self.name, json.dumps(dict(offsets)), json.dumps(state)))
        )

    def open_orders(self, venues: list[str], before_ts: int) -> list[dict[str, Any]]:
        """Orders the desk's store holds open on these venues, created at or before
        ``before_ts`` (event time): what a restart must account for."""

        def query(c: Any) -> list[dict[str, Any]]:
            cur = c.execute(_OPEN, (venues, before_ts))
            names = [d.name for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

        return self._call(query)
