"""Data-quality findings and their ``DataQualityReport`` events (deterministic ids)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.ids import event_id

INFO, WARNING, CRITICAL = "INFO", "WARNING", "CRITICAL"
SOURCE = "agent.dq"


@dataclass(frozen=True)
class Finding:
    """One data-quality finding on one stream, at the event time that revealed it."""

    venue: str
    symbol: str
    check: str
    severity: str
    message: str
    ts_event: int
    ts_ingest: int
    window_start: int | None = None
    window_end: int | None = None
    evidence: dict[str, str] = field(default_factory=dict)

    @property
    def stream(self) -> str:
        return f"{self.venue}:{self.symbol}"

    def event(self) -> dict[str, Any]:
        """The ``DataQualityReport``: same finding, same bytes (id from its identity)."""
        return {
            "event_id": event_id(
                "dq",
                self.venue,
                self.symbol,
                self.check,
                self.severity,
                self.window_start if self.window_start is not None else self.ts_event,
            ),
            "ts_event": self.ts_event,
            "ts_ingest": self.ts_ingest,
            "source": SOURCE,
            "correlation_id": None,
            "venue": self.venue,
            "symbol": self.symbol,
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "evidence": dict(sorted(self.evidence.items())),
        }


def num(x: float, digits: int = 6) -> str:
    """Evidence numbers as stable text (same float, same string on every machine)."""
    return f"{x:.{digits}g}" if digits else str(x)


def iso(ts_ms: int) -> str:
    """Event time as ISO-8601 UTC for humans reading a report."""
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
