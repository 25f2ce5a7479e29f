"""What goes into the audit trail, as chain items, from the events that carry it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUDITED_TOPICS = ("risk.commands", "gate.results")


def item_for(topic: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The audit item for a risk command (kill, halt, reduce, resume, limit change) or a
    gate result; the event id makes a re-delivered event one entry."""
    if topic == "risk.commands":
        return {
            "event_id": event["event_id"],
            "ts_event": event["ts_event"],
            "kind": f"risk_command.{event['command']}",
            "actor": event["issued_by"],
            "subject": event["scope"],
            "body": {
                "reason": event["reason"],
                "flatten": event["flatten"],
                "confirmed": event["confirmed"],
                "limits": dict(event["limits"]),
                "evidence": dict(event["evidence"]),
                "source": event["source"],
            },
        }
    if topic == "gate.results":
        return {
            "event_id": event["event_id"],
            "ts_event": event["ts_event"],
            "kind": f"gate_result.{event['status']}",
            "actor": event["source"],
            "subject": event["gate"],
            "body": {
                "run_id": event["run_id"],
                "reasons": list(event["reasons"]),
                "evidence": list(event["evidence"]),
            },
        }
    raise ValueError(f"{topic} is not audited")
