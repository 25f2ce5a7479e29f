"""Desk-wide limits over every bot's books: measures, warning then breach, one action each."""

from __future__ import annotations

from decimal import Decimal

from agents.portfolio_risk.core import PortfolioRiskCore
from streams.avro import registry
from streams.config import Level, PortfolioRisk

LIMITS = PortfolioRisk(
    version="t1",
    daily_loss_pct=Level(warning=Decimal("2"), breach=Decimal("3")),
    drawdown_pct=Level(warning=Decimal("5"), breach=Decimal("8")),
    net_exposure={"BTC": Level(warning=Decimal("150000"), breach=Decimal("250000"))},
    concentration_pct=Level(warning=Decimal("60"), breach=Decimal("90")),
    gross_leverage=Level(warning=Decimal("1.2"), breach=Decimal("1.8")),
)


def snap(bot: str, ts: int, equity: str, daily: str, btc_value: str = "0") -> dict:
    positions = [] if btc_value == "0" else [{
        "venue": "binanceus", "symbol": "BTC/USDT", "quantity": Decimal("1"),
        "avg_cost": Decimal("20000"), "mark": Decimal(btc_value),
        "market_value": Decimal(btc_value), "unrealized_pnl": Decimal("0"),
        "realized_pnl": Decimal("0")}]  # fmt: skip
    return {
        "event_id": f"s-{bot}-{ts}", "ts_event": ts, "ts_ingest": ts, "source": "agent.portfolio",
        "correlation_id": None, "bot_id": bot, "quote_currency": "USDT",
        "trading_day": "2023-03-10", "cash": Decimal(equity), "equity": Decimal(equity),
        "peak_equity": Decimal(equity), "drawdown": Decimal("0"), "realized_pnl": Decimal("0"),
        "unrealized_pnl": Decimal("0"), "daily_pnl": Decimal(daily), "fees": Decimal("0"),
        "positions": positions,
    }  # fmt: skip


def test_a_loss_across_bots_warns_then_halts_every_bot_once() -> None:
    core = PortfolioRiskCore(LIMITS)
    assert core.on_snapshot(snap("a", 1, "100000", "0")) == []
    assert core.on_snapshot(snap("b", 2, "100000", "0")) == []
    # a: -2.5k, b: -2k of 200k at the start of the day: 2.25% (warning), each bot alone is not
    assert core.on_snapshot(snap("a", 3, "97500", "-2500")) == []  # 1.25%
    warn = core.on_snapshot(snap("b", 4, "98000", "-2000"))
    assert [(t, e["severity"], e["dedup_key"]) for t, e in warn] == [
        ("alerts", "WARNING", "portfolio_risk:daily_loss_pct:warning")]  # fmt: skip
    breach = core.on_snapshot(snap("a", 5, "96000", "-4000"))  # 3% of 200k
    (_, alert), (topic, cmd) = breach
    assert alert["severity"] == "CRITICAL" and topic == "risk.commands"
    assert (cmd["command"], cmd["scope"], cmd["issued_by"]) == ("HALT", "desk", "portfolio-risk")
    assert cmd["evidence"]["daily_loss_pct"] == "3" and cmd["evidence"]["limits_version"] == "t1"
    assert cmd["reason"] == "daily_loss_pct 3 >= breach 3 (limits t1)"
    assert cmd["ts_event"] == 5 and cmd["correlation_id"] == "s-a-5"
    registry().encode("RiskCommand", cmd)
    registry().encode("Alert", alert)
    assert core.on_snapshot(snap("a", 6, "95000", "-5000")) == []  # still breached: no repeat


def test_exposure_concentration_and_leverage_reduce() -> None:
    core = PortfolioRiskCore(LIMITS)
    first = core.on_snapshot(snap("a", 1, "100000", "0", btc_value="95000"))
    # one bot all in BTC: 95% of the desk's equity in one asset (breach)
    assert [(t, e.get("dedup_key", e.get("command"))) for t, e in first] == [
        ("alerts", "portfolio_risk:concentration_pct:breach"),
        ("risk.commands", "REDUCE"),
    ]
    second = core.on_snapshot(snap("b", 2, "100000", "0", btc_value="160000"))
    # BTC net 255k > 250k (breach), gross leverage 1.275 (warning); concentration stays
    assert [(t, e.get("dedup_key", e.get("command"))) for t, e in second] == [
        ("alerts", "portfolio_risk:net_exposure:BTC:breach"), ("risk.commands", "REDUCE"),
        ("alerts", "portfolio_risk:gross_leverage:warning")]  # fmt: skip
    assert second[1][1]["evidence"]["net_exposure:BTC"] == "255000"


def test_drawdown_from_the_desk_peak_kills() -> None:
    core = PortfolioRiskCore(LIMITS)
    core.on_snapshot(snap("a", 1, "100000", "0"))
    out = core.on_snapshot(snap("a", 2, "91000", "0"))  # 9% below the peak, no daily loss seen
    assert [e["command"] for t, e in out if t == "risk.commands"] == ["KILL"]


def test_a_breach_latches_until_the_operator_resumes() -> None:
    core = PortfolioRiskCore(LIMITS)
    core.on_snapshot(snap("a", 1, "100000", "0"))
    assert [t for t, _ in core.on_snapshot(snap("a", 2, "96000", "-4000"))] == [
        "alerts", "risk.commands"]  # fmt: skip
    assert core.on_snapshot(snap("a", 3, "99000", "-1000")) == []  # recovered: still latched
    assert core.on_snapshot(snap("a", 4, "96000", "-4000")) == []  # no second halt
    core.resume()
    again = core.on_snapshot(snap("a", 5, "96000", "-4000"))
    assert [e["command"] for t, e in again if t == "risk.commands"] == ["HALT"]


def test_a_restarted_agent_reads_its_latches_from_the_audit_trail() -> None:
    from agents.audit.chain import make_entry
    from agents.portfolio_risk.agent import latched_limits

    def entry(prev, kind: str, actor: str, body: dict):
        return make_entry(prev, event_id=f"e{kind}{actor}{prev and prev.seq}", ts_event=1,
                          kind=kind, actor=actor, subject="desk", body=body)  # fmt: skip

    halt = entry(None, "risk_command.HALT", "portfolio-risk",
                 {"evidence": {"limit": "daily_loss_pct"}})  # fmt: skip
    assert latched_limits([halt]) == {"daily_loss_pct"}
    resumed = entry(halt, "risk_command.RESUME", "ops", {"confirmed": True, "evidence": {}})
    assert latched_limits([halt, resumed]) == set()
    core = PortfolioRiskCore(LIMITS)
    core.latch({"daily_loss_pct"})
    core.on_snapshot(snap("a", 1, "100000", "0"))
    assert core.on_snapshot(snap("a", 2, "96000", "-4000")) == []  # already acted on
