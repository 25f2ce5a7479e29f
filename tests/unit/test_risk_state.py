"""Trading states and the kill switch: scopes, confirmation, limit changes, fail closed."""

from __future__ import annotations

from decimal import Decimal

from agents.risk.state import TradingStates
from streams.config import load_config


def cmd(kind: str, scope: str = "desk", **kw: object) -> dict:
    return {"event_id": f"{kind}-{scope}", "ts_event": 1, "command": kind, "scope": scope,
            "confirmed": kw.get("confirmed", False), "limits": kw.get("limits", {})}  # fmt: skip


def test_scopes_select_bots_and_unknown_scopes_change_nothing() -> None:
    st = TradingStates(load_config())
    assert st.scope("desk") == ("mm-btc", "trend-btc", "trend-fx")
    assert st.scope("venue:binanceus") == ("mm-btc", "trend-btc")
    assert st.scope("bot:mm-btc") == ("mm-btc",)
    for bad in ("bot:nope", "venue:nope", "galaxy"):
        applied = st.apply(cmd("HALT", bad))
        assert applied.refused and not applied.bots
    assert {st.state(b) for b in st.bots} == {"ACTIVE"}


def test_kill_latches_until_a_confirmed_resume() -> None:
    st = TradingStates(load_config())
    applied = st.apply(cmd("KILL", "venue:binanceus"))
    assert applied.cancel == ("mm-btc", "trend-btc")
    assert st.killed("mm-btc") and st.state("mm-btc") == "HALTED"
    assert st.state("trend-fx") == "ACTIVE" and not st.killed("trend-fx")
    assert "confirmation" in (st.apply(cmd("RESUME", "venue:binanceus")).refused or "")
    assert st.killed("mm-btc")
    st.apply(cmd("REDUCE", "bot:mm-btc"))
    assert st.state("mm-btc") == "REDUCING" and st.killed("mm-btc")  # still latched
    st.apply(cmd("RESUME", "bot:mm-btc", confirmed=True))
    assert st.state("mm-btc") == "ACTIVE" and not st.killed("mm-btc")
    assert st.killed("trend-btc")  # resumed one bot only
    assert st.state("ghost") is None and st.killed("ghost")  # unknown bot: fail closed


def test_limit_changes_are_validated_and_laid_over_the_config() -> None:
    st = TradingStates(load_config())
    assert st.limits("mm-btc").max_order_notional == Decimal("5000")
    refused = st.apply(cmd("LIMIT_CHANGE", "bot:mm-btc", limits={"max_order_notional": "-1"}))
    assert refused.refused and "max_order_notional" in refused.refused
    bad_key = st.apply(cmd("LIMIT_CHANGE", "bot:mm-btc", limits={"max_orderz": "1"}))
    assert bad_key.refused and "max_orderz" in bad_key.refused
    st.apply(cmd("LIMIT_CHANGE", "bot:mm-btc", limits={"max_order_notional": "1000"}))
    assert st.limits("mm-btc").max_order_notional == Decimal("1000")
    assert st.limits("mm-btc").max_daily_loss == Decimal("5000")  # the rest unchanged


def test_a_kill_with_flatten_cancels_then_closes_each_position() -> None:
    from decimal import Decimal

    from agents.risk.desk import RiskDesk
    from streams.avro import registry
    from streams.config import load_config

    desk = RiskDesk(load_config())
    kill = {"event_id": "k1", "ts_event": 1_000, "ts_ingest": 1_000, "source": "cli.desk",
            "correlation_id": None, "command": "KILL", "scope": "bot:trend-btc",
            "issued_by": "ops", "reason": "flatten drill", "flatten": True, "confirmed": False,
            "limits": {}, "evidence": {}}  # fmt: skip
    fill = {"event_id": "f1", "ts_event": 900, "ts_ingest": 900, "bot_id": "trend-btc",
            "venue": "binanceus", "account": "main", "symbol": "BTC/USD", "client_order_id": "o1",
            "side": "BUY", "price": Decimal("20000"), "quantity": Decimal("0.75"),
            "fee": Decimal("1.5"), "fee_currency": "USD"}  # fmt: skip
    assert desk.on_fill(fill) and not desk.on_fill(fill)  # risk's own books, once per fill
    _applied, out = desk.command(kill)
    assert [(c["command"], c["side"], c["quantity"]) for c in out] == [
        ("CANCEL_ALL", None, None), ("SUBMIT", "SELL", Decimal("0.75"))]  # fmt: skip
    assert out[1]["order_type"] == "MARKET" and out[1]["reason"].startswith("flatten: KILL")
    for c in out:
        registry().encode("OrderCommand", c)
    # the closing order is reserved like any approved order: the worst case is flat
    assert desk.exposure.reserved("trend-btc", "binanceus", "BTC/USD").sells == Decimal("0.75")
    _applied, plain = desk.command(kill | {"event_id": "k2", "flatten": False})
    assert [c["command"] for c in plain] == ["CANCEL_ALL"]  # off by default
    again, nothing = desk.command(kill)  # a re-delivered command is applied once
    assert again.refused == "already applied" and nothing == []
