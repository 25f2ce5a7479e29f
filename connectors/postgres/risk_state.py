"""What pre-trade risk takes back from PostgreSQL at start, and how a command is made durable.

Risk decides from memory and never waits on PostgreSQL per intent. At start it
reads, once and within a time limit: the trading states, the books the
portfolio checkpointed (with the fills in them), risk's own checkpoint (its books
and reserved orders with the offsets of its inputs: preferred when present), the
orders still open (each stays reserved for what it has not filled) and the ids
of the risk commands already recorded. ``record_commands`` writes commands the way the sink does
(``risk_commands`` + ``trading_state``, idempotent by event id) for the
operator's kill, which is acknowledged only once durable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from connectors.postgres.checkpoint import Saved
from streams.config import DeskConfig

OPEN_STATUSES = ("PENDING", "ACCEPTED", "PARTIALLY_FILLED")


@dataclass
class RiskRestore:
    trading_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    books: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied_fills: set[str] = field(default_factory=set)
    open_orders: list[dict[str, Any]] = field(default_factory=list)
    command_ids: set[str] = field(default_factory=set)
    checkpoint: Saved | None = None  # risk's own (``agent_checkpoints``), if it saved one


def load_risk_state(dsn: str, connect_timeout: int = 5, name: str | None = None) -> RiskRestore:
    """One read-only transaction over everything risk restores from."""
    out = RiskRestore()
    with psycopg.connect(dsn, connect_timeout=connect_timeout) as conn, conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        for r in cur.execute(
            "SELECT bot_id, state, killed, limit_overrides, since, last_command FROM trading_state"
        ).fetchall():
            out.trading_states[r["bot_id"]] = {
                "state": r["state"],
                "killed": r["killed"],
                "limits": r["limit_overrides"],
                "since": r["since"],
                "last_command": r["last_command"],
            }
        for r in cur.execute("SELECT bot_id, state FROM portfolio_books").fetchall():
            out.books[r["bot_id"]] = r["state"]
        out.applied_fills = {
            r["event_id"]
            for r in cur.execute("SELECT event_id FROM portfolio_applied_fills").fetchall()
        }
        out.open_orders = cur.execute(
            "SELECT client_order_id, bot_id, venue, account, symbol, side, quantity, limit_price,"
            " filled_quantity, status, created_ts AS ts_event FROM orders"
            " WHERE status = ANY(%s) AND side IS NOT NULL AND quantity IS NOT NULL"
            " ORDER BY client_order_id",
            (list(OPEN_STATUSES),),
        ).fetchall()
        out.command_ids = {
            r["event_id"] for r in cur.execute("SELECT event_id FROM risk_commands").fetchall()
        }
        if name is not None:
            row = cur.execute(
                "SELECT state, offsets FROM agent_checkpoints WHERE name = %s", (name,)
            ).fetchone()
            if row is not None:
                offsets = {k: int(v) for k, v in row["offsets"].items()}
                out.checkpoint = Saved(row["state"], offsets)
    return out


def record_commands(dsn: str, config: DeskConfig, commands: Sequence[Mapping[str, Any]]) -> None:
    """Write risk commands (and the trading states they set) once, as the sink would."""
    from connectors.postgres.sink import PostgresSink

    sink = PostgresSink(dsn, config)
    try:
        rejected = sink.write([("risk.commands", c) for c in commands])
    finally:
        sink.close()
    if rejected:
        raise ValueError(f"risk command refused by PostgreSQL: {rejected[0].error}")
