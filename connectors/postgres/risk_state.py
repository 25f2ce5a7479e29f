"""Risk commands and trading states in PostgreSQL: risk's record, derived once.

Risk decides from memory (the desk core's state, checkpointed) and never waits on
PostgreSQL per intent. What a command did — the bots it changed, why it was
refused, each bot's trading state after it — is worked out once, by risk
(``agents.risk.desk.RiskDesk.command``); its keeper writes that outcome here
(``record_outcomes``): the ``risk_commands`` row, ``trading_state`` and, for a limit
change, a new ``limit_versions`` row. Nothing else folds commands into states: the
PostgreSQL sink does not read ``risk.commands`` and ``desk positions`` reads what
risk holds.

The operator's kill is acknowledged only once durable, risk running or not:
``record_commands`` writes the command as issued (``bots`` the scope names,
``refused`` unknown); risk's outcome completes the row when it applies it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from connectors.postgres.state import as_json

_ISSUED = """
INSERT INTO risk_commands (event_id, ts_event, command, scope, issued_by, reason, flatten,
    confirmed, limits, evidence, bots, refused)
VALUES (%(event_id)s, %(ts_event)s, %(command)s, %(scope)s, %(issued_by)s, %(reason)s,
    %(flatten)s, %(confirmed)s, %(limits)s, %(evidence)s, %(bots)s, %(refused)s)
ON CONFLICT (event_id) DO NOTHING
"""

_APPLIED = _ISSUED.replace(
    "ON CONFLICT (event_id) DO NOTHING",
    "ON CONFLICT (event_id) DO UPDATE SET bots = EXCLUDED.bots, refused = EXCLUDED.refused",
)

_TRADING_STATE = """
INSERT INTO trading_state (bot_id, state, killed, limit_overrides, since, last_command,
    updated_ts)
VALUES (%(bot_id)s, %(state)s, %(killed)s, %(limit_overrides)s, %(since)s, %(last_command)s,
    %(updated_ts)s)
ON CONFLICT (bot_id) DO UPDATE SET
    state = EXCLUDED.state, killed = EXCLUDED.killed, limit_overrides = EXCLUDED.limit_overrides,
    since = EXCLUDED.since, last_command = EXCLUDED.last_command, updated_ts = EXCLUDED.updated_ts
"""

_LIMIT_VERSION = """
INSERT INTO limit_versions (bot_id, version, overrides, command_id, ts_event)
SELECT %(bot_id)s, coalesce(max(version), 0) + 1, %(overrides)s, %(command_id)s, %(ts_event)s
FROM limit_versions WHERE bot_id = %(bot_id)s
ON CONFLICT DO NOTHING
"""


def _row(cmd: Mapping[str, Any], bots: Sequence[str], refused: str | None) -> dict[str, Any]:
    return dict(
        cmd,
        limits=as_json(cmd.get("limits") or {}),
        evidence=as_json(cmd.get("evidence") or {}),
        bots=list(bots),
        refused=refused,
    )


def record_commands(dsn: str, issued: Sequence[tuple[Mapping[str, Any], Sequence[str]]]) -> None:
    """The operator's commands as issued, each with the bots its scope names, before risk
    has them (``desk kill`` and the rest are acknowledged once durable); no state is
    derived here."""
    with psycopg.connect(dsn, connect_timeout=5) as conn, conn.transaction():
        for cmd, bots in issued:
            conn.execute(_ISSUED, _row(cmd, bots, None))


def outcome_statements(outcome: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The rows of one outcome of ``RiskDesk.command``, in the order to write them."""
    cmd = outcome["command"]
    out = [(_APPLIED, _row(cmd, outcome["bots"], outcome["refused"]))]
    for bot_id, st in sorted(outcome["states"].items()):
        out.append((_TRADING_STATE, {
            "bot_id": bot_id, "state": st["state"], "killed": st["killed"],
            "limit_overrides": as_json(st["limits"]), "since": st["since"],
            "last_command": st["last_command"], "updated_ts": cmd["ts_event"],
        }))  # fmt: skip
        if cmd["command"] == "LIMIT_CHANGE" and outcome["refused"] is None:
            out.append((_LIMIT_VERSION, {
                "bot_id": bot_id, "overrides": as_json(st["limits"]),
                "command_id": cmd["event_id"], "ts_event": cmd["ts_event"],
            }))  # fmt: skip
    return out


def record_outcomes(dsn: str, outcomes: Sequence[Mapping[str, Any]]) -> None:
    """Risk's keeper: what risk made of each command, in the order it applied them, in one
    transaction (a retry writes the same rows again: idempotent)."""
    with psycopg.connect(dsn, connect_timeout=5) as conn, conn.transaction():
        for outcome in outcomes:
            for sql, params in outcome_statements(outcome):
                conn.execute(sql, params)


def trading_states(dsn: str) -> dict[str, dict[str, Any]]:
    """Each bot's trading state as risk last recorded it (bots never commanded: no row)."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT bot_id, state, killed, limit_overrides, since, last_command FROM trading_state"
        ).fetchall()
    return {
        b: {"state": s, "killed": k, "limits": lim if isinstance(lim, dict) else json.loads(lim),
            "since": since, "last_command": last}
        for b, s, k, lim, since, last in rows
    }  # fmt: skip


def core_view(dsn: str, checkpoint: str, node: str) -> dict[str, Any] | None:
    """What a node of the desk core shows of its state in the core's latest checkpoint
    (``views``; saved about once a second), or None before the first checkpoint."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT state->'views'->%s FROM agent_checkpoints WHERE name = %s", (node, checkpoint)
        ).fetchone()
    return None if row is None else row[0]
