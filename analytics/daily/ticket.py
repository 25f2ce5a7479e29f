"""The daily ticket (pure): the decision, the intended trades and the evidence, as JSON and
markdown, byte-identical for the same as-of date and inputs.

NO_TRADE is the default. The ticket says TRADE only when the operator turned the dry-run
trade mode on (``--dry-run-trades`` or ``dry_run_trades: true``) *and* every gate passed
*and* there is something to trade; otherwise it says NO_TRADE and why. Deterministic
rules decide; nothing here asks a model, and nothing here sends an order: a TRADE ticket is
instructions for a person, confirmed afterwards with the fills they got.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analytics.daily.builder import Plan
from analytics.daily.quality import EodQuality

TICKET_VERSION = 1


@dataclass(frozen=True)
class Gate:
    name: str
    status: str  # PASS | FAIL
    detail: str


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    as_of: dt.date
    decision: str  # TRADE | NO_TRADE
    reasons: tuple[str, ...]
    gates: tuple[Gate, ...]
    plan: Plan | None
    quality: EodQuality
    inputs: Mapping[str, str]  # name -> sha256
    dry_run_trades: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "ticket_version": TICKET_VERSION,
            "ticket_id": self.ticket_id,
            "as_of": self.as_of.isoformat(),
            "decision": self.decision,
            "reasons": list(self.reasons),
            "dry_run_trades": self.dry_run_trades,
            "gates": [{"name": g.name, "status": g.status, "detail": g.detail} for g in self.gates],
            "plan": None if self.plan is None else self.plan.to_json(),
            "data_quality": self.quality.to_json(),
            "inputs": dict(sorted(self.inputs.items())),
        }

    def json_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    def markdown(self) -> str:
        p = self.plan
        lines = [
            f"# Daily ticket {self.as_of}: {self.decision}",
            "",
            f"- ticket `{self.ticket_id}`; dry-run trade mode "
            f"{'on' if self.dry_run_trades else 'off (default)'}",
            *(f"- {r}" for r in self.reasons),
            "",
            "## Lines" + ("" if self.decision == "TRADE" else " (intended, not to be traded)"),
            "",
        ]
        if p is None or not p.lines:
            lines.append("No trade.")
        else:
            ccy = p.account_currency
            lines += [
                f"| side | symbol | units | price | {ccy} sizing | weight before → after |",
                "|---|---|---:|---:|---:|---|",
            ]
            for ln in p.lines:
                lines.append(
                    f"| {ln.side} | {ln.symbol} | {ln.units} | {ln.price} "
                    f"{ln.price_currency} | {ln.notional_account:,.2f} | "
                    f"{ln.weight_before:.4f} → {ln.weight_after:.4f} |"
                )
            lines += [
                "",
                f"Account {p.account_value:,.2f} {ccy}; cash {p.cash_before:,.2f} → "
                f"{p.cash_after:,.2f} {ccy}.",
            ]
            if p.skipped:
                lines += ["", "Skipped: " + "; ".join(f"{s} ({r})" for s, r in p.skipped)]
        lines += ["", "## Gates", "", "| gate | status | detail |", "|---|---|---|"]
        lines += [f"| {g.name} | {g.status} | {g.detail} |" for g in self.gates]
        lines += ["", "## Evidence", ""]
        lines += [f"- input `{n}`: sha256 `{h}`" for n, h in sorted(self.inputs.items())]
        lines += ["", self.quality.markdown().replace("# End-of-day", "### End-of-day")]
        return "\n".join(lines)


def decide(
    as_of: dt.date,
    quality: EodQuality,
    gates: Sequence[Gate],
    plan: Plan | None,
    inputs: Mapping[str, str],
    dry_run_trades: bool,
) -> Ticket:
    """The ticket: TRADE only with the toggle on, every gate passed and a line to trade."""
    all_gates = (
        Gate(
            "eod_data_quality",
            quality.status,
            "; ".join(f"{f.symbol} {f.check}: {f.detail}" for f in quality.failures)
            or f"every check passed as of {quality.effective}",
        ),
        *gates,
    )
    reasons = []
    if not dry_run_trades:
        reasons.append("NO_TRADE by default: the dry-run trade mode is off")
    reasons += [f"gate {g.name} {g.status}: {g.detail}" for g in all_gates if g.status != "PASS"]
    if plan is None:
        reasons.append("no plan: the trade builder did not run")
    elif not plan.lines:
        reasons.append("nothing to trade: the account is on its targets")
    decision = "NO_TRADE" if reasons else "TRADE"
    if decision == "TRADE":
        reasons.append("dry-run trade mode on, every gate passed")
    body = json.dumps(
        {
            "as_of": as_of.isoformat(),
            "inputs": dict(sorted(inputs.items())),
            "dry_run_trades": dry_run_trades,
        },
        sort_keys=True,
    )
    tid = f"tk-{as_of.isoformat()}-{hashlib.sha256(body.encode()).hexdigest()[:10]}"
    return Ticket(
        tid,
        as_of,
        decision,
        tuple(reasons),
        tuple(all_gates),
        plan,
        quality,
        dict(inputs),
        dry_run_trades,
    )
