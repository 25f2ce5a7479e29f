"""Trading state per bot and the kill switch, changed only by ``RiskCommand`` events.

ACTIVE trades; REDUCING lets only position-cutting orders through; HALTED lets
nothing through. KILL is HALTED plus a latch that only a *confirmed* RESUME
lifts. KILL, HALT and REDUCE also ask the venues to cancel every open order of
the bots in scope (a resting order would otherwise still trade). A command that
names no known bot, or a RESUME without confirmation, changes nothing and says
why. Limit changes lay new values over the bot's configured limits.

Scopes: ``desk`` (every bot), ``bot:<id>``, ``venue:<id>`` (every bot on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from streams.config import DeskConfig, Limits

CANCELING = ("KILL", "HALT", "REDUCE")
STATE_AFTER = {"KILL": "HALTED", "HALT": "HALTED", "REDUCE": "REDUCING", "RESUME": "ACTIVE"}


@dataclass
class BotState:
    state: str = "ACTIVE"
    killed: bool = False
    limits: dict[str, str] = field(default_factory=dict)  # overrides from LIMIT_CHANGE
    since: int | None = None
    last_command: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "killed": self.killed,
            "limits": dict(self.limits),
            "since": self.since,
            "last_command": self.last_command,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BotState:
        return cls(d["state"], d["killed"], dict(d["limits"]), d["since"], d["last_command"])


def newest(*saved: Mapping[str, Any] | None) -> BotState | None:
    """Of a bot's saved states (the changelog table, PostgreSQL), the latest changed one:
    either store alone can come back short after a restart, the pair cannot both."""
    states = [BotState.from_dict(s) for s in saved if s is not None]
    return max(states, key=lambda b: b.since if b.since is not None else -1, default=None)


@dataclass(frozen=True)
class Applied:
    """What one command did: the bots it changed, whose orders to cancel, or why not."""

    command: Mapping[str, Any]
    bots: tuple[str, ...]
    cancel: tuple[str, ...]
    refused: str | None = None


class TradingStates:
    """The desk's trading states; starts ACTIVE for every enabled bot in the config."""

    def __init__(self, config: DeskConfig) -> None:
        self.config = config
        self.bots: dict[str, BotState] = {b.id: BotState() for b in config.bots if b.enabled}
        self._limit_cache: dict[tuple[str, tuple[tuple[str, str], ...]], Limits] = {}

    def scope(self, scope: str) -> tuple[str, ...]:
        if scope == "desk":
            return tuple(sorted(self.bots))
        kind, _, name = scope.partition(":")
        if kind == "bot":
            return (name,) if name in self.bots else ()
        if kind == "venue":
            return tuple(
                sorted(b.id for b in self.config.bots if b.venue == name and b.id in self.bots)
            )
        return ()

    def apply(self, cmd: Mapping[str, Any]) -> Applied:
        kind, bots = cmd["command"], self.scope(cmd["scope"])
        if not bots:
            return Applied(cmd, (), (), f"scope {cmd['scope']!r} names no bot of this desk")
        if kind == "RESUME" and not cmd.get("confirmed"):
            return Applied(cmd, (), (), "RESUME needs explicit confirmation (--confirm)")
        if kind == "LIMIT_CHANGE":
            return self._limits(cmd, bots)
        for b in bots:
            st = self.bots[b]
            st.state = STATE_AFTER[kind]
            st.killed = kind == "KILL" or (st.killed and kind != "RESUME")
            st.since, st.last_command = cmd["ts_event"], cmd["event_id"]
        return Applied(cmd, bots, bots if kind in CANCELING else ())

    def _limits(self, cmd: Mapping[str, Any], bots: tuple[str, ...]) -> Applied:
        new = dict(cmd.get("limits") or {})
        try:
            Limits.model_validate(new)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return Applied(cmd, (), (), f"LIMIT_CHANGE rejected: {where}: {err['msg']}")
        for b in bots:
            self.bots[b].limits.update(new)
            self.bots[b].last_command = cmd["event_id"]
        return Applied(cmd, bots, ())

    def state(self, bot_id: str) -> str | None:
        st = self.bots.get(bot_id)
        return None if st is None else st.state

    def killed(self, bot_id: str) -> bool:
        st = self.bots.get(bot_id)
        return True if st is None else st.killed  # unknown bot: treat as killed (fail closed)

    def limits(self, bot_id: str) -> Limits:
        """The bot's configured limits with its overrides laid over (built once per version:
        risk asks for every intent)."""
        overrides = self.bots[bot_id].limits
        key = (bot_id, tuple(sorted(overrides.items())))
        if key not in self._limit_cache:
            base = self.config.limits_for(bot_id)
            self._limit_cache[key] = base.model_copy(
                update=Limits.model_validate(overrides).model_dump(exclude_unset=True)
            )
        return self._limit_cache[key]
