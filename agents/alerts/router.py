"""The alert router, pure: which route gets an alert, and whether it is sent now.

Event time throughout, so a replay routes the same way. An alert goes to every
route whose ``min_severity`` it meets. Per route:

* **De-duplication**: an alert whose ``dedup_key`` was sent within the dedup
  window is the same incident and is not sent again, unless its severity is
  higher than what was sent (an escalation is always news).
* **Throttling**: at most ``max_per_window`` sends per route per throttle
  window; past that an alert is recorded as throttled, not sent (a storm of
  alerts must not bury the on-call or get the webhook banned). CRITICAL alerts
  are never throttled.

Every decision is returned, sends and suppressions alike, so each one is
recorded (``alert_deliveries``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

RANK = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}
Action = Literal["send", "deduplicated", "throttled"]


@dataclass(frozen=True)
class Decision:
    route: str
    action: Action
    why: str = ""


@dataclass
class _RouteState:
    sent: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (ts, rank)
    recent: deque[int] = field(default_factory=deque)  # send times in the throttle window


@dataclass(frozen=True)
class RouteRule:
    name: str
    min_severity: str = "WARNING"


class AlertRouter:
    def __init__(
        self,
        routes: Sequence[RouteRule],
        dedup_window_ms: int = 15 * 60_000,
        throttle_window_ms: int = 60 * 60_000,
        max_per_window: int = 30,
    ) -> None:
        self.routes = list(routes)
        self.dedup_window_ms = dedup_window_ms
        self.throttle_window_ms = throttle_window_ms
        self.max_per_window = max_per_window
        self._state = {r.name: _RouteState() for r in self.routes}

    def route(self, alert: Mapping[str, Any]) -> list[Decision]:
        ts, key = int(alert["ts_event"]), alert["dedup_key"]
        rank = RANK[alert["severity"]]
        out: list[Decision] = []
        for r in self.routes:
            if rank < RANK[r.min_severity]:
                continue
            st = self._state[r.name]
            last = st.sent.get(key)
            if last is not None and ts - last[0] < self.dedup_window_ms and rank <= last[1]:
                out.append(Decision(r.name, "deduplicated", f"sent {(ts - last[0]) // 1000} s ago"))
                continue
            while st.recent and ts - st.recent[0] >= self.throttle_window_ms:
                st.recent.popleft()
            if len(st.recent) >= self.max_per_window and alert["severity"] != "CRITICAL":
                out.append(Decision(r.name, "throttled", f"{len(st.recent)} sent in the window"))
                continue
            st.sent[key] = (ts, rank)
            if len(st.sent) > 4096:  # forget incidents older than the window
                st.sent = {k: v for k, v in st.sent.items() if ts - v[0] < self.dedup_window_ms}
            st.recent.append(ts)
            out.append(Decision(r.name, "send"))
        return out
