"""Alerts from what other agents report, pure: data-quality findings and dead-letter bursts.

* :func:`dq_alert` — a ``DataQualityReport`` at or above ``alerting.dq_min_severity``
  becomes an ``Alert`` with the same severity. Its ``dedup_key`` is
  ``dq:<venue>:<symbol>:<check>``, so the router treats a finding that repeats (a
  stream flapping stale) as one incident, and an escalation (WARNING → CRITICAL) as news.
* :class:`DeadLetterBursts` — per (agent, source topic), ``deadletter_burst_warning``
  dead letters within ``deadletter_burst_window_seconds`` raise one WARNING, and
  ``deadletter_burst_critical`` one CRITICAL. The burst is over (and the next one alerts
  again) once the window holds fewer than half the warning count.

Event time throughout and deterministic ids (UUIDv5 of the input's id): a replay raises
the same alerts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.alerts.router import RANK
from agents.dq.findings import iso
from streams.envelope import caused_by
from streams.ids import event_id
from streams.redact import one_line

SOURCE = "agent.alert-sources"


def dq_alert(report: Mapping[str, Any], min_severity: str) -> dict[str, Any] | None:
    """The alert for a data-quality finding, or None below ``min_severity`` (``OFF``: never)."""
    severity = report["severity"]
    if min_severity not in RANK or RANK[severity] < RANK[min_severity]:
        return None
    venue, symbol, check = report["venue"], report["symbol"], report["check"]
    evidence = {str(k): str(v) for k, v in (report.get("evidence") or {}).items()}
    evidence |= {"check": check, "report_id": report["event_id"]}
    window = ""
    start, end = report.get("window_start"), report.get("window_end")
    if start is not None:
        evidence["window_start"] = iso(int(start))
        window = f" (from {iso(int(start))}"
        if end is not None:
            evidence["window_end"] = iso(int(end))
            window += f" to {iso(int(end))}"
        window += ")"
    return {
        **caused_by(
            report, event_id("alert", "dq", report["event_id"]), report.get("source") or "agent.dq"
        ),
        "severity": severity,
        "dedup_key": f"dq:{venue}:{symbol}:{check}",
        "title": f"Data quality: {check} on {venue}:{symbol}",
        "message": f"{report['message']}{window}",
        "bot_id": None,
        "venue": venue,
        "symbol": symbol,
        "evidence": dict(sorted(evidence.items())),
    }


@dataclass
class _Burst:
    times: deque[int]
    now: int = 0
    level: int = 0  # 0 quiet, 1 WARNING raised, 2 CRITICAL raised


@dataclass
class DeadLetterBursts:
    """Counts dead letters per (agent, source topic) in a sliding event-time window."""

    window_ms: int = 300_000
    warning: int = 10
    critical: int = 100
    _state: dict[tuple[str, str], _Burst] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.window_ms <= 0 or not 1 <= self.warning <= self.critical:
            raise ValueError("need window_ms > 0 and 1 <= warning <= critical")

    def observe(self, dead: Mapping[str, Any]) -> dict[str, Any] | None:
        """The alert this dead letter raises (a burst reached a new level), or None."""
        key = (str(dead["agent"]), str(dead["topic"]))
        st = self._state.get(key)
        if st is None:
            st = self._state[key] = _Burst(deque(maxlen=self.critical))
        ts = int(dead["ts_event"])
        st.now = max(st.now, ts)
        while st.times and st.now - st.times[0] >= self.window_ms:
            st.times.popleft()
        if len(st.times) < self.warning / 2:
            st.level = 0  # the last burst is over
        if st.now - ts < self.window_ms:
            st.times.append(ts)
        n = len(st.times)
        level = 2 if n >= self.critical else 1 if n >= self.warning else 0
        if level <= st.level:
            return None
        st.level = level
        return self._alert(dead, key, n, level)

    def _alert(self, dead: Mapping[str, Any], key: tuple[str, str], n: int,
               level: int) -> dict[str, Any]:  # fmt: skip
        agent, topic = key
        severity = "CRITICAL" if level == 2 else "WARNING"
        seconds = self.window_ms // 1000
        threshold = self.critical if level == 2 else self.warning
        error = one_line(f"{dead.get('error_kind', '?')}: {dead.get('error', '')}", 300)
        return {
            **caused_by(
                dead, event_id("alert", "deadletter-burst", dead["event_id"], severity), SOURCE
            ),
            "severity": severity,
            "dedup_key": f"deadletter:{agent}:{topic}",
            "title": f"Dead-letter burst: {agent} on {topic}",
            "message": f"{agent} dead-lettered {n} messages of {topic} within {seconds} s "
            f"(threshold {threshold}); last: {error}",
            "bot_id": None,
            "venue": None,
            "symbol": None,
            "evidence": {
                "agent": agent,
                "topic": topic,
                "count": str(n),
                "threshold": str(threshold),
                "window_seconds": str(seconds),
                "last_error": error,
                "last_partition": str(dead.get("partition")),
                "last_offset": str(dead.get("offset")),
            },
        }
