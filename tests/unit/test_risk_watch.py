"""Visible trouble and the durable command journal, pure and on disk."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from agents.risk.core import Leg
from agents.risk.exposure import ExposureBook
from agents.risk.watch import RiskWatch
from connectors.journal import CommandJournal
from streams.avro import registry
from streams.config import load_config

T0 = 1_678_000_000_000
LIMITS = load_config().limits


def decision(n: int, ts: int, ok: bool, reason: str = "buying_power: no cash") -> dict:
    return {"event_id": f"d{n}", "ts_event": ts, "bot_id": "b1",
            "decision": "APPROVE" if ok else "DENY", "reasons": [] if ok else [reason]}  # fmt: skip


def test_a_bot_denied_for_n_minutes_is_raised_once_then_cleared() -> None:
    watch = RiskWatch(stuck_ms=30 * 60_000, ack_timeout_ms=120_000)
    got = []
    for m in range(40):  # one denied intent a minute
        got += watch.on_decision(decision(m, T0 + m * 60_000, False), new_order=True)
    assert [a["severity"] for a in got] == ["WARNING"]  # once, at 30 minutes
    assert got[0]["ts_event"] == T0 + 30 * 60_000 and "buying_power x31" in got[0]["message"]
    assert watch.conditions("b1") and got[0]["dedup_key"] == "risk:stuck:b1"
    assert watch.on_decision(decision(99, T0, False), new_order=False) == []  # cancels: n/a
    cleared = watch.on_decision(decision(100, T0 + 41 * 60_000, True), new_order=True)
    assert [a["severity"] for a in cleared] == ["INFO"] and not watch.conditions("b1")
    for a in got + cleared:
        registry().encode("Alert", a)


def test_a_long_only_bot_short_or_over_a_limit_is_out_of_bounds() -> None:
    watch = RiskWatch(stuck_ms=1, ack_timeout_ms=1)
    short = [Leg("v:BTC/USD", Decimal("-0.5"), mark=Decimal("20000"), mark_ts=T0)]
    (alert,) = watch.on_book("b1", short, "long_only", LIMITS, T0, "f1")
    assert alert["severity"] == "CRITICAL" and "short -0.5 (long-only strategy)" in alert["message"]
    assert watch.on_book("b1", short, "long_only", LIMITS, T0 + 1, "f2") == []  # still out
    assert watch.on_book("b1", short, "long_short", LIMITS, T0 + 2, "f3")[0]["severity"] == "INFO"
    big = [Leg("v:BTC/USD", Decimal("6"), mark=Decimal("20000"), mark_ts=T0)]  # $120k > $100k
    (over,) = watch.on_book("b1", big, "long_only", LIMITS, T0 + 3, "f4")
    assert "max_position_notional" in over["message"]
    registry().encode("Alert", over)


def test_an_unanswered_order_is_overdue_once_and_stays_reserved() -> None:
    book = ExposureBook()
    cmd = {"client_order_id": "c1", "bot_id": "b1", "venue": "v", "symbol": "BTC/USD",
           "side": "BUY", "quantity": Decimal(1), "limit_price": None, "ts_event": T0}  # fmt: skip
    book.on_submit(cmd)
    watch = RiskWatch(stuck_ms=1, ack_timeout_ms=120_000)
    assert book.overdue(T0 + 60_000, 120_000) == []
    late = book.overdue(T0 + 200_000, 120_000)
    assert [w.client_order_id for w in late] == ["c1"]
    assert len(watch.on_overdue(late, T0 + 200_000)) == 1
    assert watch.on_overdue(late, T0 + 260_000) == []  # once per order
    assert book.reserved("b1", "v", "BTC/USD").buys == Decimal("1")  # it may be live


def test_a_terminal_event_ahead_of_its_fill_keeps_the_fill_reserved() -> None:
    book = ExposureBook()
    book.on_submit({"client_order_id": "c1", "bot_id": "b1", "venue": "v", "symbol": "S",
                    "side": "SELL", "quantity": Decimal("2"), "limit_price": Decimal("10"),
                    "ts_event": T0})  # fmt: skip
    book.on_order_event({"client_order_id": "c1", "status": "CANCELED",
                         "filled_quantity": Decimal("0.5")})  # fmt: skip
    assert book.reserved("b1", "v", "S").sells == Decimal("0.5")  # the fill is on its way
    book.on_fill({"client_order_id": "c1", "quantity": Decimal("0.5")})
    assert book.orders == {}


def test_the_journal_is_durable_and_survives_a_torn_line(tmp_path: Path) -> None:
    journal = CommandJournal(tmp_path / "state" / "risk-commands.jsonl")
    assert journal.read() == []
    journal.append({"event_id": "k2", "ts_event": 2, "command": "KILL", "scope": "desk"})
    journal.append({"event_id": "k1", "ts_event": 1, "command": "HALT", "scope": "desk"})
    journal.append({"event_id": "k1", "ts_event": 1, "command": "HALT", "scope": "desk"})
    with journal.path.open("a") as f:
        f.write('{"event_id": "k3", "ts_ev')  # a crash mid-write
    assert [c["event_id"] for c in journal.read()] == ["k1", "k2"]  # event order
    assert oct(journal.path.stat().st_mode & 0o777) == "0o600"
