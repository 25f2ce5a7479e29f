"""What `desk positions` folds from the topics: reserved exposure and risk conditions."""

from __future__ import annotations

from decimal import Decimal

from streams.cli.ops import reserved_exposure, risk_conditions


def order(cid: str, side: str, qty: str, ts: int) -> dict:
    return {"command": "SUBMIT", "client_order_id": cid, "bot_id": "mm", "venue": "v",
            "symbol": "BTC/USDT", "side": side, "quantity": Decimal(qty),
            "limit_price": Decimal("20000"), "ts_event": ts}  # fmt: skip


def event(cid: str, status: str, filled: str, ts: int) -> dict:
    return {"client_order_id": cid, "status": status, "filled_quantity": Decimal(filled),
            "ts_event": ts}  # fmt: skip


def test_open_orders_are_reserved_until_the_venue_closes_them_or_they_fill() -> None:
    commands = [order("b1", "BUY", "0.5", 1), order("s1", "SELL", "0.2", 2),
                order("b2", "BUY", "0.3", 3), {"command": "CANCEL_ALL", "ts_event": 4}]  # fmt: skip
    events = [event("b1", "ACCEPTED", "0", 5), event("s1", "ACCEPTED", "0", 5),
              event("b2", "CANCELED", "0", 6),
              event("b1", "PARTIALLY_FILLED", "0.1", 7)]  # fmt: skip
    fill = {"event_id": "f1", "client_order_id": "b1", "quantity": Decimal("0.1"), "ts_event": 7}
    fills = [fill, fill]  # delivered twice: counted once
    got = reserved_exposure(commands, events, fills)
    assert got == {("mm", "v:BTC/USDT"): {"buys": Decimal("0.4"), "sells": Decimal("0.2")}}


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
