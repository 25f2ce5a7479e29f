"""Portfolio risk, pure: the latest book of every bot → desk-wide measures → actions.

Measures, over the latest ``PortfolioSnapshot`` of each bot (amounts summed
across quote currencies as if equal):

* ``daily_loss_pct``: the desk's loss today as % of its start-of-day equity
  (each bot's start of day is ``equity - daily_pnl``);
* ``drawdown_pct``: % below the highest desk equity seen;
* ``net_exposure``: per asset, |sum of signed market values| across bots;
* ``concentration_pct``: the largest asset's |net| as % of desk equity;
* ``gross_leverage``: sum of |market value| / desk equity.

Each limit has a warning and a breach level. Crossing into warning raises a
WARNING alert; crossing into breach issues the configured ``RiskCommand``
(REDUCE, HALT or KILL, scope: the whole desk) with the measured values as
evidence, plus a CRITICAL alert. Only transitions act, and a breach latches:
a limit that stays breached, or dips under and comes back, does not repeat its
command until the operator lifts the halt (``desk resume --confirm``), which
clears every latch (``resume``). Event time and ids come from the
snapshot that crossed the line, so a replay acts identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from streams.config import Level, PortfolioRisk
from streams.decimals import tidy
from streams.envelope import caused_by
from streams.ids import event_id

SOURCE = "agent.portfolio_risk"
ISSUER = "portfolio-risk"
ZERO, HUNDRED = Decimal(0), Decimal(100)
Q = Decimal("0.0001")
RANK = {"ok": 0, "warning": 1, "breach": 2}


@dataclass(frozen=True)
class Measure:
    limit: str  # daily_loss_pct, drawdown_pct, net_exposure:BTC, ...
    value: Decimal
    level: Level

    @property
    def status(self) -> str:
        if self.value >= self.level.breach:
            return "breach"
        return "warning" if self.value >= self.level.warning else "ok"


def _base(symbol: str) -> str:
    return symbol.split("/")[0].split("-")[0]


def _fmt(x: Decimal) -> str:
    return format(tidy(x.quantize(Q, ROUND_HALF_EVEN)), "f")


class PortfolioRiskCore:
    def __init__(self, limits: PortfolioRisk) -> None:
        self.limits = limits
        self.books: dict[str, Mapping[str, Any]] = {}
        self.peak = ZERO
        self.status: dict[str, str] = {}  # limit -> ok / warning / breach

    def measures(self) -> list[Measure]:
        lim, books = self.limits, self.books.values()
        equity = sum((Decimal(b["equity"]) for b in books), ZERO)
        daily = sum((Decimal(b["daily_pnl"]) for b in books), ZERO)
        start = equity - daily
        self.peak = max(self.peak, equity)
        net: dict[str, Decimal] = {}
        gross = ZERO
        for b in books:
            for p in b["positions"]:
                mv = Decimal(p["market_value"])
                net[_base(p["symbol"])] = net.get(_base(p["symbol"]), ZERO) + mv
                gross += abs(mv)
        out: list[Measure] = []
        if lim.daily_loss_pct and start > 0:
            out.append(Measure("daily_loss_pct", max(-daily, ZERO) / start * HUNDRED,
                               lim.daily_loss_pct))  # fmt: skip
        if lim.drawdown_pct and self.peak > 0:
            out.append(Measure("drawdown_pct", (self.peak - equity) / self.peak * HUNDRED,
                               lim.drawdown_pct))  # fmt: skip
        for asset, level in sorted(lim.net_exposure.items()):
            out.append(Measure(f"net_exposure:{asset}", abs(net.get(asset, ZERO)), level))
        if equity > 0:
            if lim.concentration_pct and net:
                top = max(abs(v) for v in net.values())
                out.append(Measure("concentration_pct", top / equity * HUNDRED,
                                   lim.concentration_pct))  # fmt: skip
            if lim.gross_leverage:
                out.append(Measure("gross_leverage", gross / equity, lim.gross_leverage))
        return out

    def on_snapshot(self, snap: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The events this snapshot calls for: (topic, event), alerts and risk commands."""
        self.books[snap["bot_id"]] = snap
        out: list[tuple[str, dict[str, Any]]] = []
        measures = self.measures()
        evidence: dict[str, str] = {}  # every measure, formatted only when one acts
        for m in measures:
            before = self.status.get(m.limit, "ok")
            now = "breach" if before == "breach" else m.status  # latched until a resume
            self.status[m.limit] = now
            if RANK[now] <= RANK[before]:
                continue  # only a worse level acts; recovery waits for the operator
            evidence = evidence or {x.limit: _fmt(x.value) for x in measures}
            out.append(("alerts", self._alert(snap, m, now, evidence)))
            if now == "breach":
                out.append(("risk.commands", self._command(snap, m, evidence)))
        return out

    def latch(self, limits: Iterable[str]) -> None:
        """Limits already breached and acted on (after a restart: from the audit trail)."""
        for limit in limits:
            self.status[limit] = "breach"

    def resume(self) -> None:
        """The operator lifted the halt: every limit is judged afresh from the next book."""
        self.status.clear()

    def _action(self, limit: str) -> str:
        return self.limits.on_breach.get(limit.split(":")[0], "HALT")

    def _why(self, m: Measure, status: str) -> str:
        bound = m.level.breach if status == "breach" else m.level.warning
        return f"{m.limit} {_fmt(m.value)} >= {status} {_fmt(bound)} (limits {self.limits.version})"

    def _alert(self, snap: Mapping[str, Any], m: Measure, status: str,
               evidence: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        breach = status == "breach"
        action = f": {self._action(m.limit)} every bot" if breach else ""
        return {
            **caused_by(snap, event_id("alert", SOURCE, m.limit, status, snap["event_id"]), SOURCE),
            "severity": "CRITICAL" if breach else "WARNING",
            "dedup_key": f"portfolio_risk:{m.limit}:{status}",
            "title": f"Portfolio {m.limit} {status}" + action,
            "message": self._why(m, status),
            "bot_id": None,
            "venue": None,
            "symbol": None,
            "evidence": evidence | {"limits_version": self.limits.version},
        }

    def _command(self, snap: Mapping[str, Any], m: Measure,
                 evidence: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        return {
            **caused_by(snap, event_id("risk_command", SOURCE, m.limit, snap["event_id"]), SOURCE),
            "command": self._action(m.limit),
            "scope": "desk",
            "issued_by": ISSUER,
            "reason": self._why(m, "breach"),
            "flatten": self.limits.flatten_on_kill and self._action(m.limit) == "KILL",
            "confirmed": False,
            "limits": {},
            "evidence": evidence | {"limits_version": self.limits.version, "limit": m.limit},
        }
