"""Visible trouble, pure: bots that cannot trade or hold what they must not, as alerts.

Three conditions, each raised once when it starts (and said again only after it
cleared), in event time so a replay raises the same alerts:

* ``stuck``: every new-order intent of the bot was denied for ``stuck_ms``;
* ``out_of_bounds``: the filled position breaks the strategy's declared side
  (a long-only bot short) or a position / gross limit;
* ``overdue``: an approved order has had no venue answer for ``ack_timeout_ms``
  (it stays reserved: it may be live at the venue; reconciliation must look).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agents.risk.core import Leg
from agents.risk.exposure import Working
from streams.config import Limits
from streams.envelope import envelope
from streams.ids import event_id

SOURCE = "agent.risk"


@dataclass
class RiskWatch:
    stuck_ms: int
    ack_timeout_ms: int
    denied_since: dict[str, int] = field(default_factory=dict)
    denials: dict[str, Counter[str]] = field(default_factory=dict)
    raised: dict[tuple[str, str], str] = field(default_factory=dict)  # (bot, kind) -> detail
    overdue_seen: set[str] = field(default_factory=set)

    def conditions(self, bot_id: str) -> list[str]:
        return sorted(f"{k}: {d}" for (b, k), d in self.raised.items() if b == bot_id)

    def on_decision(self, decision: Mapping[str, Any], new_order: bool) -> list[dict[str, Any]]:
        if not new_order:
            return []
        bot, ts = decision["bot_id"], int(decision["ts_event"])
        if decision["decision"] == "APPROVE":
            self.denied_since.pop(bot, None)
            self.denials.pop(bot, None)
            return self._clear(bot, "stuck", ts, decision["event_id"])
        since = self.denied_since.setdefault(bot, ts)
        reasons = self.denials.setdefault(bot, Counter())
        reasons.update(r.split(":")[0] for r in decision["reasons"])
        if ts - since < self.stuck_ms or (bot, "stuck") in self.raised:
            return []
        top = ", ".join(f"{r} x{n}" for r, n in reasons.most_common(3))
        minutes = (ts - since) // 60_000
        detail = f"every intent denied for {minutes} min ({top})"
        return [self._raise(bot, "stuck", "WARNING", ts, decision["event_id"], detail,
                            {"since": str(since), "top_reasons": top})]  # fmt: skip

    def on_book(
        self,
        bot_id: str,
        legs: Iterable[Leg],
        side: str,
        limits: Limits,
        ts: int,
        cause: str,
    ) -> list[dict[str, Any]]:
        """Judge the filled position (not the worst case: this is what the bot holds)."""
        problems = []
        gross = Decimal(0)
        for g in legs:
            if side == "long_only" and g.position < 0:
                problems.append(f"{g.key} short {g.position} (long-only strategy)")
            if g.mark is None:
                continue
            value = abs(g.position) * g.mark
            gross += value
            cap = limits.max_position_notional
            if cap is not None and value > cap:
                problems.append(f"{g.key} position {value:.2f} > max_position_notional {cap}")
        if limits.max_gross_exposure is not None and gross > limits.max_gross_exposure:
            problems.append(f"gross {gross:.2f} > max_gross_exposure {limits.max_gross_exposure}")
        if not problems:
            return self._clear(bot_id, "out_of_bounds", ts, cause)
        detail = "; ".join(problems)
        if (bot_id, "out_of_bounds") in self.raised:
            self.raised[(bot_id, "out_of_bounds")] = detail  # still out: no new alert
            return []
        return [self._raise(bot_id, "out_of_bounds", "CRITICAL", ts, cause, detail, {})]

    def on_overdue(self, orders: Iterable[Working], ts: int) -> list[dict[str, Any]]:
        out = []
        for w in orders:
            if w.client_order_id in self.overdue_seen:
                continue
            self.overdue_seen.add(w.client_order_id)
            detail = (
                f"{w.client_order_id} {w.side} {w.quantity} {w.venue}:{w.symbol} approved at"
                f" {w.ts}, no venue answer after {self.ack_timeout_ms // 1000} s: still reserved"
            )
            self.raised[(w.bot_id, "overdue")] = detail
            evidence = {"client_order_id": w.client_order_id}
            cid = w.client_order_id
            out.append(
                self._alert(w.bot_id, "overdue", "WARNING", ts, cid, detail, evidence, key=cid)
            )
        return out

    def acked(self, client_order_id: str, bot_id: str) -> None:
        if client_order_id in self.overdue_seen:
            self.raised.pop((bot_id, "overdue"), None)

    # -- alerts -------------------------------------------------------------------------------

    def _raise(self, bot: str, kind: str, severity: str, ts: int, cause: str, detail: str,
               evidence: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        self.raised[(bot, kind)] = detail
        return self._alert(bot, kind, severity, ts, cause, detail, evidence)

    def _clear(self, bot: str, kind: str, ts: int, cause: str) -> list[dict[str, Any]]:
        if self.raised.pop((bot, kind), None) is None:
            return []
        return [self._alert(bot, kind, "INFO", ts, cause, "cleared", {}, key="cleared")]

    def _alert(self, bot: str, kind: str, severity: str, ts: int, cause: str, detail: str,
               evidence: dict[str, str], key: str = "") -> dict[str, Any]:  # fmt: skip
        title = {"stuck": "Bot cannot trade", "out_of_bounds": "Bot out of bounds",
                 "overdue": "Order without venue answer"}[kind]  # fmt: skip
        if detail == "cleared":
            title += ": cleared"
        return {
            **envelope(
                event_id("alert", SOURCE, kind, bot, cause, key, severity),
                ts,
                SOURCE,
                correlation_id=cause,
            ),
            "severity": severity,
            "dedup_key": f"risk:{kind}:{bot}" + (f":{key}" if key and key != "cleared" else ""),
            "title": f"{title} ({bot})",
            "message": detail,
            "bot_id": bot,
            "venue": None,
            "symbol": None,
            "evidence": {k: str(v) for k, v in evidence.items()},
        }
