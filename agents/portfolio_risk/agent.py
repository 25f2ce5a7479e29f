"""Portfolio risk's audit helpers. The core runs inside the risk node (``agents/risk``):
a breach must bite before the next intent, so risk measures every snapshot itself.

A breach latches until a confirmed desk-wide RESUME. The breaches already acted
on are read back from the audit trail (a restart does not halt the desk twice);
the limits in force are written to the audit trail once per version and content.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Any

from agents.audit.chain import Entry
from agents.portfolio_risk.core import ISSUER
from streams.ids import event_id

NAME = "portfolio-risk"
log = logging.getLogger(__name__)


def limits_item(limits: Any, now_ms: int) -> dict[str, Any]:
    """The audit item for the limits in force (one per version and content)."""
    body = limits.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {
        "event_id": event_id("portfolio_risk_limits", limits.version, digest),
        "ts_event": now_ms,
        "kind": "limit_change.portfolio_risk",
        "actor": "config",
        "subject": "desk",
        "body": body | {"sha256": digest},
    }


def latched_limits(entries: Iterable[Entry]) -> set[str]:
    """The limits portfolio risk acted on since the last confirmed desk-wide RESUME, as the
    audit trail has it: a restarted agent does not halt the desk a second time."""
    latched: set[str] = set()
    for e in entries:
        if e.kind == "risk_command.RESUME" and e.subject == "desk" and e.body.get("confirmed"):
            latched.clear()
        elif e.actor == ISSUER and "limit" in e.body.get("evidence", {}):
            latched.add(e.body["evidence"]["limit"])
    return latched
