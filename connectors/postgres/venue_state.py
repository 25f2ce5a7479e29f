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

from typing import Any

from connectors.postgres.checkpoint import AgentCheckpoint

_OPEN = """
SELECT client_order_id, venue, account, bot_id, symbol, side, order_type, quantity,
       limit_price, decision_id AS correlation_id
FROM orders WHERE status IN ('PENDING', 'ACCEPTED', 'PARTIALLY_FILLED') AND venue = ANY(%s)
  AND created_ts <= %s
ORDER BY created_ts, client_order_id
"""


class VenueCheckpoint(AgentCheckpoint):
    """The paper venue's checkpoint (its own table, older than ``agent_checkpoints``)."""

    table = "paper_venue_state"

    def __init__(self, dsn: str, name: str = "paper") -> None:
        super().__init__(dsn, name)

    def open_orders(self, venues: list[str], before_ts: int) -> list[dict[str, Any]]:
        """Orders the desk's store holds open on these venues, created at or before
        ``before_ts`` (event time): what a restart must account for."""

        def query(c: Any) -> list[dict[str, Any]]:
            cur = c.execute(_OPEN, (venues, before_ts))
            names = [d.name for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

        return self._call(query)
