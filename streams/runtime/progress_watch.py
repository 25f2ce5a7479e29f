"""Alerts from the worker's status file: a store writer falling behind, an agent stuck.

``desk status`` shows both (``streams.runtime.stack.progress_health``), but nobody
was told. The supervisor hands every fresh ``run/<prefix>agents.json`` body
(``DeskApp.status()``) to a ``ProgressWatch``, which is pure and answers with
*transitions* only: one CRITICAL when a condition starts, one INFO when it ends,
nothing in between (the supervisor looks every second).

* **writer behind / store failing**: a write-behind writer whose oldest unwritten
  input was handed over ``writer_behind_s`` ago, or whose store has failed for that
  long. It has caught up when its store answers again and its backlog is at most
  half that old (hysteresis: a store that is merely slow does not flap).
* **agent stuck**: an agent that made no progress for ``agent_stuck_s`` while other
  agents kept advancing past its event time (input exists beyond it) for that long.
  An idle desk -- nothing advances anywhere -- is not stuck; neither is an agent
  whose peers stopped with it. It moves again at its next progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STALE_S = 10.0  # a status file older than this says nothing (the worker is gone or hung)
_MOVED_S = 0.5  # wall time of the last progress is rounded in the file (idle_s, 0.1 s)


@dataclass(frozen=True)
class ProgressAlert:
    """One transition, in the supervisor's terms (part, what, detail) plus its alert fields."""

    part: str  # "writer <name>" | "agent <name>"
    what: str  # "behind" | "store failing" | "caught up" | "stuck" | "moving again"
    severity: str  # CRITICAL | INFO
    dedup_key: str
    detail: str


@dataclass
class _Agent:
    """What the watch last saw of one agent; ``pressure_*``: when peers advanced past it."""

    wall: float  # wall time of its last progress
    inputs: int
    pressure_since: float | None = None
    last_pressure: float | None = None
    stuck: bool = False


@dataclass
class ProgressWatch:
    """Pure: successive status bodies and the wall time in, alert transitions out.
    A threshold of 0 turns that alert off."""

    writer_behind_s: float = 30.0
    agent_stuck_s: float = 60.0
    _behind: set[str] = field(default_factory=set)
    _agents: dict[str, _Agent] = field(default_factory=dict)

    def observe(self, body: dict[str, Any], now: float) -> list[ProgressAlert]:
        """The transitions this snapshot causes (usually none)."""
        return self._writers(body.get("writers") or [], now) + self._stuck(body, now)

    def active(self) -> list[str]:
        """Parts currently alerted (for the supervisor's status)."""
        stuck = [f"agent {n}" for n, a in sorted(self._agents.items()) if a.stuck]
        return [f"writer {n}" for n in sorted(self._behind)] + stuck

    # -- store writers -----------------------------------------------------------------------

    def _writers(self, writers: list[dict[str, Any]], now: float) -> list[ProgressAlert]:
        limit = self.writer_behind_s
        out: list[ProgressAlert] = []
        for w in writers:
            name = str(w.get("name", "?"))
            behind, failing = w.get("behind_s"), w.get("failing_for_s")
            detail = _writer_detail(w)
            if name not in self._behind:
                failing_long = limit > 0 and failing is not None and failing >= limit
                behind_long = limit > 0 and behind is not None and behind >= limit
                if failing_long or behind_long:
                    self._behind.add(name)
                    what = "store failing" if failing_long else "behind"
                    key = f"supervisor:writer:{name}:behind"
                    out.append(ProgressAlert(f"writer {name}", what, "CRITICAL", key, detail))
            elif failing is None and (behind is None or behind <= limit / 2):
                self._behind.discard(name)
                key = f"supervisor:writer:{name}:caught_up"
                out.append(ProgressAlert(f"writer {name}", "caught up", "INFO", key, detail))
        return out

    # -- stuck consumers ---------------------------------------------------------------------

    def _stuck(self, body: dict[str, Any], now: float) -> list[ProgressAlert]:
        at = float(body.get("at", now))
        seen = {
            name: (int(a.get("event_time") or 0), at - float(a.get("idle_s") or 0.0),
                   int(a.get("inputs") or 0))
            for name, a in (body.get("agents") or {}).items()
        }  # fmt: skip
        advanced = {n for n, (_, wall, inputs) in seen.items() if self._moved(n, wall, inputs)}
        out: list[ProgressAlert] = []
        limit = self.agent_stuck_s
        for name, (ts, wall, inputs) in seen.items():
            prev = self._agents.get(name)
            if prev is None or name in advanced:
                if prev is not None and prev.stuck:
                    key = f"supervisor:agent:{name}:moving"
                    detail = f"progressed again, event time {ts}"
                    out.append(ProgressAlert(f"agent {name}", "moving again", "INFO", key, detail))
                self._agents[name] = _Agent(wall, inputs)
                continue
            pushed = [
                seen[o][0] for o in advanced if o != name and seen[o][0] > ts and seen[o][1] > wall
            ]
            if pushed:
                if prev.pressure_since is None:
                    prev.pressure_since = now
                prev.last_pressure = now
            elif prev.last_pressure is not None and now - prev.last_pressure >= 2 * limit:
                prev.pressure_since = prev.last_pressure = None  # the desk went quiet again
            if (
                limit > 0
                and not prev.stuck
                and prev.pressure_since is not None
                and prev.last_pressure is not None
                and now - prev.pressure_since >= limit
                and now - prev.wall >= limit
                and now - prev.last_pressure < limit / 2  # peers still moving: not a quiet desk
            ):
                prev.stuck = True
                newest = max(t for t, _, _ in seen.values())
                detail = (
                    f"no progress for {now - prev.wall:.0f} s at event time {ts}; other agents"
                    f" are {(newest - ts) // 1000} s of event time past it"
                )
                key = f"supervisor:agent:{name}:stuck"
                out.append(ProgressAlert(f"agent {name}", "stuck", "CRITICAL", key, detail))
        return out

    def _moved(self, name: str, wall: float, inputs: int) -> bool:
        prev = self._agents.get(name)
        return prev is not None and (inputs != prev.inputs or wall > prev.wall + _MOVED_S)


def _writer_detail(w: dict[str, Any]) -> str:
    detail = f"{w.get('pending', 0)} pending"
    if w.get("behind_s") is not None:
        detail += f", oldest handed over {w['behind_s']} s ago"
    if w.get("failing_for_s") is not None:
        detail += f", store failing for {w['failing_for_s']} s: {w.get('last_error') or '?'}"
    return detail + f", {w.get('written', 0)} written"
