"""How a risk command is made durable in PostgreSQL.

Risk decides from memory (the desk core's state, checkpointed) and never waits on
PostgreSQL per intent. ``record_commands`` writes commands the way the sink does
(``risk_commands`` + ``trading_state``, idempotent by event id): risk's keeper
for every command it applies, the operator's kill, which is acknowledged only
once durable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.config import DeskConfig


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
