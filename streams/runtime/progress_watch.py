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
* **agent stuck**: an agent (a Faust stream) with input waiting on its partitions
  (the consumer's high watermark past the last offset it took) that has taken no
  input for ``agent_stuck_s``: blocked in its processing, or waiting on a store.
  An agent with nothing waiting is idle, however long (a bot that never trades
  leaves ``portfolio-fills`` idle for hours). It moves again at its next input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STALE_S = 10.0  # a status file older than this says nothing (the worker is gone or hung)


@dataclass(frozen=True)
class ProgressAlert:
    """One transition, in the supervisor's terms (part, what, detail) plus its alert fields."""

    part: str  # "writer <name>" | "agent <name>"
    what: str  # "behind" | "store failing" | "caught up" | "stuck" | "moving again"
    severity: str  # CRITICAL | INFO
    dedup_key: str
    detail: str


@dataclass
class ProgressWatch:
    """Pure: successive status bodies and the wall time in, alert transitions out.
    A threshold of 0 turns that alert off."""

    writer_behind_s: float = 30.0
    agent_stuck_s: float = 60.0
    _behind: set[str] = field(default_factory=set)
    _stuck_now: set[str] = field(default_factory=set)

    def observe(self, body: dict[str, Any], now: float) -> list[ProgressAlert]:
        """The transitions this snapshot causes (usually none)."""
        return self._writers(body.get("writers") or [], now) + self._stuck(body, now)

    def active(self) -> list[str]:
        """Parts currently alerted (for the supervisor's status)."""
        stuck = [f"agent {n}" for n in sorted(self._stuck_now)]
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
        """From the worker's consumer view (``InputSensor``): an agent with input waiting on
        its partitions that has taken none for ``agent_stuck_s`` is stuck; an agent with
        nothing waiting is idle, however long."""
        limit = self.agent_stuck_s
        out: list[ProgressAlert] = []
        for name, c in sorted((body.get("consumers") or {}).items()):
            waiting, since = int(c.get("waiting") or 0), float(c.get("since_input_s") or 0.0)
            stuck = limit > 0 and waiting > 0 and since >= limit
            part = f"agent {name}"
            if stuck and name not in self._stuck_now:
                self._stuck_now.add(name)
                detail = f"{waiting} input(s) waiting; none taken for {since:.0f} s"
                key = f"supervisor:agent:{name}:stuck"
                out.append(ProgressAlert(part, "stuck", "CRITICAL", key, detail))
            elif not stuck and name in self._stuck_now:
                self._stuck_now.discard(name)
                detail = f"taking input again ({waiting} waiting)"
                key = f"supervisor:agent:{name}:moving"
                out.append(ProgressAlert(part, "moving again", "INFO", key, detail))
        return out


def _writer_detail(w: dict[str, Any]) -> str:
    detail = f"{w.get('pending', 0)} pending"
    if w.get("behind_s") is not None:
        detail += f", oldest handed over {w['behind_s']} s ago"
    if w.get("failing_for_s") is not None:
        detail += f", store failing for {w['failing_for_s']} s: {w.get('last_error') or '?'}"
    return detail + f", {w.get('written', 0)} written"
