"""What `desk positions` shows of risk: what risk itself holds (its checkpoint view:
reserved exposure, trading states), and the risk conditions its alerts raised."""

from __future__ import annotations

from decimal import Decimal

from agents.risk.node import RiskNode
from streams.cli.ops import risk_command, risk_conditions
from streams.config import load_config


def order(cid: str, side: str, qty: str, ts: int) -> dict:
    return {"command": "SUBMIT", "client_order_id": cid, "bot_id": "mm-btc", "venue": "v",
            "symbol": "BTC/USDT", "side": side, "quantity": Decimal(qty),
            "limit_price": Decimal("20000"), "ts_event": ts}  # fmt: skip


def event(cid: str, status: str, filled: str, ts: int) -> dict:
    return {"client_order_id": cid, "status": status, "filled_quantity": Decimal(filled),
            "ts_event": ts, "bot_id": "mm-btc"}  # fmt: skip


def test_risks_view_reserves_open_orders_until_closed_or_filled_and_shows_its_states() -> None:
    node = RiskNode(load_config(), {"data-quality": None})
    book = node.risk.exposure
    for o in (order("b1", "BUY", "0.5", 1), order("s1", "SELL", "0.2", 2),
              order("b2", "BUY", "0.3", 3)):  # fmt: skip
        book.on_submit(o)
    for e in (
        event("b1", "ACCEPTED", "0", 5),
        event("s1", "ACCEPTED", "0", 5),
        event("b2", "CANCELED", "0", 6),
        event("b1", "PARTIALLY_FILLED", "0.1", 7),
    ):
        book.on_order_event(e)
    book.on_fill({"event_id": "f1", "client_order_id": "b1", "quantity": Decimal("0.1"),
                  "ts_event": 7})  # fmt: skip
    node.risk.command(risk_command("KILL", "bot:mm-btc", "drill", "pytest", now_ms=8))
    view = node.view()
    assert view["reserved"] == {"mm-btc": {"v:BTC/USDT": {"buys": "0.4", "sells": "0.2"}}}
    assert view["trading_states"]["mm-btc"]["killed"] is True
    assert view["trading_states"]["trend-btc"]["state"] == "ACTIVE"
    # what the command did, for risk's keeper to record (states derived here, once)
    (outcome,) = node.drain_applied()
    assert outcome["bots"] == ["mm-btc"] and outcome["refused"] is None
    assert outcome["states"]["mm-btc"]["state"] == "HALTED" and node.drain_applied() == []


def test_conditions_show_until_risk_clears_them() -> None:
    def alert(kind: str, severity: str, ts: int, msg: str) -> dict:
        return {"source": "agent.risk", "bot_id": "mm", "dedup_key": f"risk:{kind}:mm",
                "severity": severity, "ts_event": ts, "message": msg}  # fmt: skip

    alerts = [alert("stuck", "WARNING", 1, "every intent denied for 30 min"),
              alert("out_of_bounds", "CRITICAL", 2, "v:BTC/USDT short -0.1"),
              alert("stuck", "INFO", 3, "cleared"),
              {"source": "agent.portfolio_risk", "bot_id": None, "dedup_key": "x",
               "severity": "CRITICAL", "ts_event": 4, "message": "desk"}]  # fmt: skip
    assert risk_conditions(alerts) == {"mm": {"out_of_bounds": "v:BTC/USDT short -0.1"}}
