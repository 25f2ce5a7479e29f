"""The reconciler for a desk config, and what a critical finding triggers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agents.paper_venue.desk import PaperDesk
from agents.recon.core import SOURCE, Reconciler
from streams.config import DeskConfig
from streams.envelope import caused_by
from streams.ids import event_id


def reconciler(config: DeskConfig, *, rebaseline: bool = False) -> Reconciler:
    """Paper accounts are funded by the config, so their balances are checked too."""
    funding = {k: dict(pv.balances) for k, pv in PaperDesk(config).venues.items()}
    return Reconciler(config.reconciliation, funding, rebaseline=rebaseline)


def follow_ups(config: DeskConfig, report: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A finding raises an alert; a critical one also moves its bot (or every bot on the
    account, when the finding names none) to REDUCING."""
    sev = report["severity"]
    alert = {
        **caused_by(report, event_id("alert", report["event_id"]), SOURCE),
        "severity": sev,
        "dedup_key": f"recon:{report['venue']}:{report['account']}:{report['finding']}",
        "title": f"Reconciliation: {report['finding'].replace('_', ' ')}",
        "message": report["message"],
        "bot_id": report["bot_id"],
        "venue": report["venue"],
        "symbol": None,
        "evidence": dict(report["evidence"]),
    }
    out: list[tuple[str, dict[str, Any]]] = [("alerts", alert)]
    if sev != "CRITICAL" or not config.reconciliation.reduce_on_critical:
        return out
    known = {b.id for b in config.bots}
    bots: Iterable[str] = (
        [report["bot_id"]]
        if report["bot_id"] in known
        else [
            b.id
            for b in config.bots
            if b.venue == report["venue"] and b.account == report["account"]
        ]
    )
    for bot in bots:
        out.append(("risk.commands", {
            **caused_by(report, event_id("risk_command", report["event_id"], bot), SOURCE),
            "command": "REDUCE",
            "scope": f"bot:{bot}", "issued_by": "reconciliation",
            "reason": f"{report['finding']}: {report['message']}", "flatten": False,
            "confirmed": False, "limits": {}, "evidence": dict(report["evidence"]),
        }))  # fmt: skip
    return out
