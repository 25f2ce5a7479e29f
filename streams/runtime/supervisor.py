"""Supervision of a running stack: restart what died, say so, fail closed meanwhile.

``desk up`` used to start the parts and then only wait: a SIGKILLed worker stayed
dead (and took the desk down with it), a dead broker or PostgreSQL was noticed by
nobody. A ``Supervisor`` thread now looks at every part once a second:

* **worker** exited: restarted with exponential backoff (1 s doubling to 30 s; the
  backoff resets after a minute of uptime), the broker and its data untouched;
  the restarted agents take their state back (checkpoints) and the broker
  re-delivers what they had not acknowledged.
* **broker** (embedded) exited: started again on the same port, as a new
  incarnation (``streams.incarnation``: it starts empty), topics applied, and the
  worker restarted against it. Until then nothing flows, so nothing trades.
* **PostgreSQL** (embedded) exited: started again on the same data directory.
  Unreachable but alive (a stall): reported and alerted; risk already denies new
  exposure while its commands are not durable (fail closed), and the stores'
  writers buffer (``streams.writebehind``).

It also reads the worker's status file (``run/<prefix>agents.json``) and alerts when
a store writer falls behind or its store keeps failing, and when an agent is stuck
while the others move on (``streams.runtime.progress_watch``; thresholds under
``alerting:`` in the desk config).

Every transition (down, up, restarted, behind, stuck, ...) is an ``Alert`` on the
``alerts`` topic (when the broker is up), a line in ``run/supervisor.log`` and an
entry in ``status()``. ``SupervisorPolicy`` and ``ProgressWatch`` are the pure parts:
what to do, given what is seen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.config import load_config
from streams.envelope import envelope
from streams.errors import ConfigError
from streams.ids import event_id
from streams.runtime.progress_watch import STALE_S, ProgressWatch

log = logging.getLogger("deskplane.supervisor")

PARTS = ("broker", "postgres", "worker")


@dataclass
class PartWatch:
    """One part's recent history, for the backoff and the alerts."""

    up: bool = True
    down_since: float | None = None
    restarts: int = 0
    next_try: float = 0.0
    backoff_s: float = 1.0
    up_since: float = 0.0


@dataclass
class SupervisorPolicy:
    """Pure: given each part's liveness at ``now``, which transitions to report and which
    parts to restart now (backoff respected)."""

    base_s: float = 1.0
    cap_s: float = 30.0
    reset_after_s: float = 60.0
    parts: dict[str, PartWatch] = field(default_factory=lambda: {p: PartWatch() for p in PARTS})

    def observe(self, part: str, alive: bool, now: float) -> tuple[str | None, bool]:
        """(transition, restart now?) for one part; transition is ``down``, ``up`` or None."""
        w = self.parts[part]
        if alive:
            if not w.up:
                w.up, w.down_since, w.up_since = True, None, now
                return "up", False
            if now - w.up_since >= self.reset_after_s:
                w.backoff_s = self.base_s
            return None, False
        transition = None
        if w.up:
            w.up, w.down_since, w.next_try = False, now, now  # first restart at once
            transition = "down"
        if now >= w.next_try:
            w.restarts += 1
            w.next_try = now + w.backoff_s
            w.backoff_s = min(self.cap_s, w.backoff_s * 2)
            return transition, True
        return transition, False


@dataclass
class Transition:
    at: float
    part: str
    what: str  # down | up | restarted | restart failed | behind | stuck | ...
    detail: str
    severity: str | None = None  # None: CRITICAL for down / restart failed, else INFO
    dedup_key: str | None = None  # None: supervisor:<part>:<down|up>

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "part": self.part, "what": self.what, "detail": self.detail}


class Supervisor:
    """The thread that watches a ``Stack`` (``streams.runtime.stack``) and mends it."""

    def __init__(
        self, stack: Any, interval_s: float = 1.0, restart: tuple[str, ...] = PARTS
    ) -> None:
        self.stack = stack
        self.restart = frozenset(restart)  # parts outside it are watched and alerted only
        self.interval_s = interval_s
        self.policy = SupervisorPolicy()
        self.history: list[Transition] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log_path = stack.run_dir / "supervisor.log"
        self.progress = ProgressWatch()  # the desk config's thresholds at start()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.progress = progress_watch(self.stack.settings)
        now = time.time()
        for w in self.policy.parts.values():
            w.up_since = now
        self._thread = threading.Thread(target=self._run, daemon=True, name="supervisor")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception as exc:  # the supervisor must outlive anything it watches
                log.exception("supervisor check failed: %s", exc)

    # -- one look at every part -------------------------------------------------------------

    def check(self) -> None:
        s = self.stack
        now = time.time()
        broker_alive = s.broker_alive()
        self._handle("broker", broker_alive, now, s.restart_broker, self._broker_detail)
        if not broker_alive:
            return  # nothing else can recover before the broker does
        self._handle("postgres", s.postgres_alive(), now, s.restart_postgres, self._pg_detail)
        if s.with_agents and not self._stop.is_set():
            self._handle("worker", s.worker_alive(), now, s.restart_worker, self._worker_detail)
            if s.worker_alive():
                self._watch_progress(now)

    def _watch_progress(self, now: float) -> None:
        """Writers behind and agents stuck, from the worker's status file. A missing or stale
        file says nothing: a dead worker is alerted as such above."""
        path = self.stack.run_dir / f"{self.stack.settings.topic_prefix}agents.json"
        try:
            body = json.loads(path.read_text())
            fresh = now - float(body.get("at", 0)) <= STALE_S
        except (OSError, ValueError, TypeError, AttributeError):
            return
        if not fresh:
            return
        for a in self.progress.observe(body, now):
            self._record(a.part, a.what, a.detail, a.severity, a.dedup_key)

    def _handle(
        self,
        part: str,
        alive: bool,
        now: float,
        restart: Callable[[], bool],
        detail: Callable[[], str],
    ) -> None:
        transition, act = self.policy.observe(part, alive, now)
        if transition == "down":
            self._record(part, "down", detail())
        elif transition == "up":
            down = self.policy.parts[part]
            how = f"after {down.restarts} restart(s)" if part in self.restart else "(not restarted)"
            self._record(part, "up", f"back {how}")
        if act and part in self.restart and not self._stop.is_set():
            try:
                restarted = restart()
            except Exception as exc:
                self._record(part, "restart failed", " ".join(str(exc).split())[:300])
                return
            if restarted:
                self._record(part, "restarted", f"restart {self.policy.parts[part].restarts}")

    def _broker_detail(self) -> str:
        return "broker not answering (its in-memory topics are gone with it)"

    def _pg_detail(self) -> str:
        return self.stack.postgres_problem()

    def _worker_detail(self) -> str:
        code = self.stack.worker.returncode if self.stack.worker is not None else None
        return f"worker exited (code {code})"

    # -- reporting -------------------------------------------------------------------------

    def _record(
        self,
        part: str,
        what: str,
        detail: str,
        severity: str | None = None,
        dedup_key: str | None = None,
    ) -> None:
        t = Transition(time.time(), part, what, detail, severity, dedup_key)
        self.history.append(t)
        del self.history[:-200]
        line = json.dumps(t.to_json())
        log.warning("supervisor: %s %s: %s", part, what, detail)
        with contextlib.suppress(OSError), self._log_path.open("a") as f:
            f.write(line + "\n")
        self._alert(t)

    def _alert(self, t: Transition) -> None:
        severity = t.severity or ("CRITICAL" if t.what in ("down", "restart failed") else "INFO")
        way = "down" if severity == "CRITICAL" else "up"
        dedup_key = t.dedup_key or f"supervisor:{t.part}:{way}"
        ms = int(t.at * 1000)
        alert = {
            **envelope(event_id("alert", "supervisor", t.part, t.what, ms), ms, "supervisor"),
            "severity": severity,
            "dedup_key": dedup_key,
            "title": f"{t.part} {t.what}",
            "message": t.detail,
            "bot_id": None,
            "venue": None,
            "symbol": None,
            "evidence": {"part": t.part, "what": t.what},
        }
        self.stack.publish_alert(alert)

    def status(self) -> dict[str, Any]:
        return {
            "parts": {
                p: {"up": w.up, "restarts": w.restarts, "down_since": w.down_since}
                for p, w in self.policy.parts.items()
            },
            "recent": [t.to_json() for t in self.history[-10:]],
            "alerting": self.progress.active(),  # writers behind, agents stuck
        }


def progress_watch(settings: Any) -> ProgressWatch:
    """The watch with the desk config's thresholds (the defaults if the config cannot be read:
    the supervisor must start whatever the file says; ``desk up`` has validated it already)."""
    try:
        a = load_config(getattr(settings, "config_file", None)).alerting
    except (ConfigError, OSError) as exc:
        log.warning("supervisor: desk config unreadable, default alert thresholds: %s", exc)
        return ProgressWatch()
    return ProgressWatch(a.writer_behind_seconds, a.agent_stuck_seconds)
