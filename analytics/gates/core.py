"""Promotion gates, judged from collected facts (``analytics.gates.evidence`` gathers them):
pure, so every verdict is reproducible from the evidence it cites.

Each gate is PASS, FAIL or STALE with its reasons and evidence. Unknown is never a pass:
evidence that is missing fails, evidence that is too old is STALE, and a STALE gate fails
the promotion (fail closed). Two clocks: artifacts a person makes (the junit file, the
replay verifications) age in wall time; the desk's own evidence (reports, snapshots, bars)
ages in the desk's event time, against the newest bar it took (``as_of``), so a replayed
window is judged as of its own end, and judged the same way every time.

The validation ladder (seed 002 D77): a level is reached when it and every level below
pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

PASS, FAIL, STALE = "PASS", "FAIL", "STALE"
LADDER = (
    (0, "tests", ("tests",)),
    (1, "replay regression", ("replay_regression",)),
    (2, "paper smoke", ("paper_smoke",)),
    (3, "paper soak", ("paper_soak",)),
    (4, "operations", ("reconciliation", "parity", "data_quality", "alert_delivery")),
)
LIVE_LEVEL = 3  # no live capital below it


@dataclass(frozen=True)
class Evidence:
    name: str
    passed: bool
    detail: str
    link: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, "link": self.link}


@dataclass
class GateResult:
    gate: str
    status: str = PASS
    reasons: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        self.status = FAIL
        self.reasons.append(reason)

    def stale(self, reason: str) -> None:
        if self.status == PASS:
            self.status = STALE
        self.reasons.append(reason)

    def cite(self, name: str, passed: bool, detail: str, link: str | None = None) -> bool:
        self.evidence.append(Evidence(name, passed, detail, link))
        return passed

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "status": self.status,
            "reasons": self.reasons,
            "evidence": [e.to_json() for e in self.evidence],
        }


def overall(results: Sequence[GateResult]) -> str:
    return PASS if results and all(r.status == PASS for r in results) else FAIL


def validation_level(results: Sequence[GateResult]) -> int:
    """The highest ladder level whose gates, and every lower level's, all PASS; -1: none."""
    status = {r.gate: r.status for r in results}
    reached = -1
    for level, _name, gates in LADDER:
        if not all(status.get(g) == PASS for g in gates):
            break
        reached = level
    return reached


def _hours(ms: float) -> str:
    return f"{ms / 3_600_000:.1f} h"


# -- the gates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Junit:
    path: str
    tests: int
    failures: int
    errors: int
    skipped: int
    written_ms: int  # file time, wall clock
    failed_names: tuple[str, ...] = ()


def tests_gate(junit: Junit | None, now_ms: int, max_age_ms: int) -> GateResult:
    g = GateResult("tests")
    if junit is None:
        g.fail("no junit file: the test suite's result is unknown (pytest --junitxml=...)")
        return g
    age = now_ms - junit.written_ms
    ok = junit.tests > 0 and junit.failures == 0 and junit.errors == 0
    detail = (
        f"{junit.tests} tests, {junit.failures} failed, {junit.errors} errors, "
        f"{junit.skipped} skipped, {_hours(age)} old"
    )
    g.cite("junit", ok, detail, junit.path)
    if junit.tests == 0:
        g.fail("the junit file holds no test")
    elif not ok:
        names = ", ".join(junit.failed_names[:3])
        g.fail(f"{junit.failures + junit.errors} test(s) failed: {names}")
    if age > max_age_ms:
        g.stale(f"the test result is {_hours(age)} old (limit {_hours(max_age_ms)})")
    return g


@dataclass(frozen=True)
class Verification:
    dataset: str
    path: str
    result: Mapping[str, Any] | None  # the latest ``desk replay verify`` result, or None
    finished_ms: int | None


def regression_gate(
    verifications: Sequence[Verification], code: str, now_ms: int, max_age_ms: int
) -> GateResult:
    g = GateResult("replay_regression")
    if not verifications:
        g.fail("no replay dataset (desk replay windows, then desk replay verify)")
        return g
    for v in verifications:
        r = v.result
        if r is None or v.finished_ms is None:
            g.cite(v.dataset, False, "never verified", v.path)
            g.fail(f"{v.dataset}: never verified (desk replay verify)")
            continue
        age = now_ms - v.finished_ms
        ok = r.get("status") == PASS
        g.cite(
            v.dataset,
            ok,
            f"{r.get('status')} run {r.get('run_id')}, {_hours(age)} old, "
            f"code {r.get('code_version')}",
            v.path,
        )
        if not ok:
            first = (r.get("invariants") or r.get("differences") or ["?"])[0]
            g.fail(f"{v.dataset}: FAIL ({first})")
        if not r.get("config_is_recorded", False):
            g.fail(f"{v.dataset}: verified with another config than the recorded one")
        if r.get("code_version") != code:
            g.stale(f"{v.dataset}: verified on code {r.get('code_version')}, this is {code}")
        if age > max_age_ms:
            g.stale(f"{v.dataset}: verified {_hours(age)} ago (limit {_hours(max_age_ms)})")
    return g


@dataclass(frozen=True)
class BotActivity:
    """One bot's paper evidence over the soak window (event time)."""

    bot: str
    decisions: int
    running_decisions: int
    fills: int
    orders: int
    rejects_after_warmup: int
    orders_after_warmup: int
    worst_turnover_x: Decimal | None  # max over trading days of traded notional / equity
    worst_daily_loss_pct: Decimal | None
    max_drawdown_pct: Decimal | None
    minutes: int  # minutes in the window
    minutes_over_cancel_budget: int
    last_snapshot_ms: int | None


@dataclass(frozen=True)
class SoakLimits:
    running_pct: Decimal = Decimal(65)
    turnover_x: Decimal = Decimal(3)
    daily_loss_pct: Decimal = Decimal("1.5")
    drawdown_pct: Decimal = Decimal("2.5")
    cancel_budget_per_minute: int = 20
    within_budget_pct: Decimal = Decimal(95)
    max_reject_rate: Decimal = Decimal("0.01")


def paper_smoke_gate(bots: Sequence[BotActivity], as_of: int, max_age_ms: int) -> GateResult:
    """Level 2: every bot filled at least once, and its books are fresh."""
    g = GateResult("paper_smoke")
    if not bots:
        g.fail("no bot activity in the window")
    for b in bots:
        if not g.cite(f"{b.bot}.fills", b.fills > 0, f"{b.fills} fills, {b.orders} orders"):
            g.fail(f"{b.bot}: no fill in the window")
        _fresh(g, f"{b.bot}.snapshots", b.last_snapshot_ms, as_of, max_age_ms)
    return g


def paper_soak_gate(bots: Sequence[BotActivity], lim: SoakLimits) -> GateResult:
    """Level 3: the seven paper KPIs (seed 002 D45) for every bot."""
    g = GateResult("paper_soak")
    if not bots:
        g.fail("no bot activity in the window")
    for b in bots:
        running = (Decimal(100) * b.running_decisions / b.decisions) if b.decisions else None
        within = (
            Decimal(100) * (b.minutes - b.minutes_over_cancel_budget) / b.minutes
            if b.minutes
            else None
        )
        rejects = (
            Decimal(b.rejects_after_warmup) / b.orders_after_warmup
            if b.orders_after_warmup
            else Decimal(0)
        )
        checks = [
            (
                "running_pct",
                running,
                running is not None and running >= lim.running_pct,
                f">= {lim.running_pct}",
            ),
            (
                "turnover_x",
                b.worst_turnover_x,
                b.worst_turnover_x is not None and b.worst_turnover_x <= lim.turnover_x,
                f"<= {lim.turnover_x}",
            ),
            (
                "daily_loss_pct",
                b.worst_daily_loss_pct,
                b.worst_daily_loss_pct is not None and b.worst_daily_loss_pct < lim.daily_loss_pct,
                f"< {lim.daily_loss_pct}",
            ),
            (
                "drawdown_pct",
                b.max_drawdown_pct,
                b.max_drawdown_pct is not None and b.max_drawdown_pct < lim.drawdown_pct,
                f"< {lim.drawdown_pct}",
            ),
            (
                "cancel_budget_kept_pct",
                within,
                within is not None and within > lim.within_budget_pct,
                f"> {lim.within_budget_pct} (budget {lim.cancel_budget_per_minute}/min)",
            ),
            ("fills", b.fills, b.fills > 0, "> 0"),
            (
                "reject_rate_after_warmup",
                rejects,
                rejects <= lim.max_reject_rate,
                f"<= {lim.max_reject_rate}",
            ),
        ]
        for name, value, ok, bound in checks:
            shown = "unknown" if value is None else _num(value)
            if not g.cite(f"{b.bot}.{name}", ok, f"{shown} (limit {bound})"):
                g.fail(f"{b.bot}: {name} {shown}, limit {bound}")
    return g


def _num(v: Decimal | int) -> str:
    if isinstance(v, int):
        return str(v)
    return f"{v.quantize(Decimal('0.01')):f}"


def _fresh(g: GateResult, name: str, ts: int | None, as_of: int, max_age_ms: int) -> None:
    if ts is None:
        g.cite(name, False, "never")
        g.fail(f"{name}: no evidence at all")
        return
    age = as_of - ts
    ok = g.cite(name, age <= max_age_ms, f"{_hours(age)} before the desk's newest bar")
    if not ok:
        g.stale(
            f"{name}: last seen {_hours(age)} before the desk's newest bar "
            f"(limit {_hours(max_age_ms)})"
        )


def reconciliation_gate(
    last_report_ms: Mapping[str, int],
    criticals: Sequence[str],
    accounts: Sequence[str],
    as_of: int,
    max_age_ms: int,
) -> GateResult:
    """Every paper/live account reconciled recently (its venue report, which reconciliation
    checks), and no CRITICAL finding in the window."""
    g = GateResult("reconciliation")
    if not accounts:
        g.fail("no account to reconcile: no bot runs")
    for acct in accounts:
        _fresh(g, f"{acct}.venue_report", last_report_ms.get(acct), as_of, max_age_ms)
    if not g.cite("critical_findings", not criticals, f"{len(criticals)} CRITICAL"):
        g.fail(f"{len(criticals)} CRITICAL reconciliation finding(s): {criticals[0]}")
    return g


def parity_gate(
    latest: Mapping[str, tuple[int, str]], bots: Sequence[str], as_of: int, max_age_ms: int
) -> GateResult:
    """Every bot's latest parity report within thresholds (OK) and fresh."""
    g = GateResult("parity")
    if not bots:
        g.fail("no bot runs")
    for bot in bots:
        got = latest.get(bot)
        _fresh(g, f"{bot}.parity", None if got is None else got[0], as_of, max_age_ms)
        if got is not None and not g.cite(f"{bot}.parity_status", got[1] == "OK", got[1]):
            g.fail(f"{bot}: parity {got[1]} (the fill model looks better than reality)")
    return g


def data_quality_gate(
    last_clean_ms: Mapping[str, int],
    criticals: Sequence[str],
    max_age_ms: Mapping[str, int],
    as_of: int,
    resolved: Sequence[str] = (),
) -> GateResult:
    """Every traded stream (the keys of ``max_age_ms``: its own age limit, a few of its bar
    intervals) has fresh clean bars, and no CRITICAL finding of the window is still open
    (``criticals``: no clean bar of its stream since; ``resolved``: the stream recovered,
    cited so a reviewer sees them)."""
    g = GateResult("data_quality")
    if not max_age_ms:
        g.fail("no traded stream")
    for s, limit in sorted(max_age_ms.items()):
        _fresh(g, f"{s}.clean_bars", last_clean_ms.get(s), as_of, limit)
    if resolved:
        g.cite(
            "critical_resolved",
            True,
            f"{len(resolved)} CRITICAL, the stream recovered after each; first: {resolved[0]}",
        )
    if not g.cite("critical_open", not criticals, f"{len(criticals)} CRITICAL open"):
        g.fail(f"{len(criticals)} CRITICAL data-quality finding(s) still open: {criticals[0]}")
    return g


def alert_delivery_gate(outcomes: Mapping[str, int], unsent_critical: int) -> GateResult:
    """Alerts reach their routes: no delivery given up as failed, no CRITICAL alert without
    a delivery record (dry-run counts as delivered: it is the configured route)."""
    g = GateResult("alert_delivery")
    failed = outcomes.get("failed", 0)
    done = sum(v for k, v in outcomes.items() if k != "failed")
    detail = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "no alert yet"
    if not g.cite("deliveries", failed == 0, detail):
        g.fail(f"{failed} alert deliveries failed ({done} delivered)")
    if not g.cite("critical_undelivered", unsent_critical == 0, f"{unsent_critical}"):
        g.fail(f"{unsent_critical} CRITICAL alert(s) with no delivery record")
    return g
