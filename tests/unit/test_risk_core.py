"""Pre-trade risk properties over random intents and states (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.risk.core import Leg, PreTradeRisk, RiskContext
from streams.avro import registry
from streams.config import load_config

LIMITS = load_config().limits
T0 = 1_678_000_000_000
qty = st.decimals("0.0001", "1", places=4)
price = st.decimals("19900", "20100", places=2)


@st.composite
def intents(draw: st.DrawFn) -> dict:
    order_type = draw(st.sampled_from(["MARKET", "LIMIT", "POST_ONLY"]))
    n = draw(st.integers(0, 10**6))
    return {
        "event_id": f"i-{n}",
        "ts_event": T0 + draw(st.integers(0, 100_000)),
        "ts_ingest": T0,
        "source": "test",
        "correlation_id": None,
        "bot_id": "b1",
        "strategy": "s",
        "venue": "binanceus",
        "symbol": draw(mostly("BTC/USDT", "ETH/USDT")),
        "action": draw(mostly("NEW", "CANCEL")),
        "client_order_id": f"c-{n}",
        "side": draw(st.sampled_from(["BUY", "SELL"])),
        "order_type": order_type,
        "quantity": draw(qty),
        "limit_price": None if order_type == "MARKET" else draw(price),
        "time_in_force": "GTC",
        "reduce_only": False,
        "reason": "test",
    }


def mostly(good: object, *bad: object) -> st.SearchStrategy:
    """Each hazard one time in five, so every gate is met with the others open."""
    return st.sampled_from([good] * (4 * len(bad)) + list(bad))


@st.composite
def contexts(draw: st.DrawFn) -> RiskContext:
    mark = float(draw(price))
    pos = draw(st.decimals("-3", "3", places=4))
    buys = draw(st.decimals("0", "2", places=4))
    sells = draw(st.decimals("0", "2", places=4))
    leg = Leg("binanceus:BTC/USDT", pos, buys, sells, Decimal(repr(mark)), T0)
    return RiskContext(
        account="main",
        allowed_symbols=frozenset({"binanceus:BTC/USDT"}),
        limits=LIMITS,
        trading_state=draw(st.sampled_from(["ACTIVE", "REDUCING", "HALTED", None])),
        kill=draw(mostly(False, True)),
        mark=draw(mostly(mark, None)),
        mark_ts=T0 + draw(mostly(-60_000, -400_000)),
        data_critical=draw(mostly((), ("stale",))),
        legs=draw(mostly((leg,), None)),
        cash=Decimal(100_000) - pos * Decimal(repr(mark)),
        equity=Decimal(100_000),
        peak_equity=Decimal(draw(mostly(100_000, 130_000))),
        daily_pnl=Decimal(draw(mostly(-1000, -6000))),
        side=draw(st.sampled_from(["long_only", "long_short"])),
        durable=draw(mostly(True, False)),
    )


def _decide(intent: dict, ctx: RiskContext) -> tuple[dict, dict | None]:
    decision, command = PreTradeRisk().decide(intent, ctx)
    registry().encode("RiskDecision", decision)
    if command is not None:
        registry().encode("OrderCommand", command)
    return decision, command


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(intents(), contexts())
def test_every_decision_carries_its_checks_and_reasons(intent: dict, ctx: RiskContext) -> None:
    decision, command = _decide(intent, ctx)
    assert decision["checks"], "every decision shows what it was judged on"
    if decision["decision"] == "DENY":
        assert decision["reasons"] and command is None
    else:
        assert not decision["reasons"] and command is not None
        assert command["decision_id"] == decision["event_id"]


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(intents(), contexts())
def test_state_kill_and_data_gates_hold(intent: dict, ctx: RiskContext) -> None:
    decision, _ = _decide(intent, ctx)
    if decision["decision"] != "APPROVE" or intent["action"] != "NEW":
        return
    assert ctx.trading_state in ("ACTIVE", "REDUCING")  # never HALTED, never unknown
    assert not ctx.kill
    assert ctx.mark is not None and not ctx.data_critical  # no approval on stale/critical data
    assert ctx.mark_ts is not None and intent["ts_event"] - ctx.mark_ts <= 180_000
    assert ctx.legs is not None
    leg = ctx.leg("binanceus:BTC/USDT")
    assert leg is not None
    signed = intent["quantity"] if intent["side"] == "BUY" else -intent["quantity"]
    reducing = (signed < 0 < leg.position and leg.short_side + signed >= 0) or (
        signed > 0 > leg.position and leg.long_side + signed <= 0
    )
    if ctx.trading_state == "REDUCING" or not ctx.durable:
        assert reducing  # worst case: cannot cross zero even if every open order fills
    if ctx.side == "long_only":
        assert leg.short_side + min(signed, Decimal(0)) >= 0  # never short, in the worst case


def _good_ctx(**kw: object) -> RiskContext:
    base = dict(
        account="main",
        allowed_symbols=frozenset({"binanceus:BTC/USDT"}),
        limits=LIMITS,
        trading_state="ACTIVE",
        mark=20_000.0,
        mark_ts=T0,
        legs=(),
        cash=Decimal(100_000),
        equity=Decimal(100_000),
        peak_equity=Decimal(100_000),
        daily_pnl=Decimal(0),
    )
    return RiskContext(**(base | kw))  # type: ignore[arg-type]


def _intent(**kw: object) -> dict:
    base = {
        "event_id": "i-1",
        "ts_event": T0 + 1000,
        "ts_ingest": T0,
        "source": "test",
        "correlation_id": None,
        "bot_id": "b1",
        "strategy": "s",
        "venue": "binanceus",
        "symbol": "BTC/USDT",
        "action": "NEW",
        "client_order_id": "c-1",
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": Decimal("0.5"),
        "limit_price": Decimal("20010"),
        "time_in_force": "GTC",
        "reduce_only": False,
        "reason": "test",
    }
    return base | kw


def test_a_plain_order_is_approved_and_a_fat_finger_is_not() -> None:
    decision, command = _decide(_intent(), _good_ctx())
    assert decision["decision"] == "APPROVE" and command["command"] == "SUBMIT"
    fat = _decide(_intent(limit_price=Decimal("30000")), _good_ctx())[0]
    assert fat["decision"] == "DENY"
    band = next(c for c in fat["checks"] if c["name"] == "price_band")
    assert band["value"] == "5000.00" and band["limit"] == "500"


def test_order_rate_limit_counts_approvals_in_event_time() -> None:
    risk, ctx = PreTradeRisk(), _good_ctx()
    lim = LIMITS.max_orders_per_minute
    assert lim is not None
    got = [
        risk.decide(_intent(event_id=f"r{i}", quantity=Decimal("0.01")), ctx)[0]["decision"]
        for i in range(lim + 1)
    ]
    assert got[:lim] == ["APPROVE"] * lim and got[lim] == "DENY"
    later = _intent(event_id="r-late", quantity=Decimal("0.01"), ts_event=T0 + 62_000)
    assert risk.decide(later, ctx)[0]["decision"] == "APPROVE"  # the minute has passed
