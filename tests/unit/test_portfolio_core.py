"""Portfolio books: exact identities over random fill streams, PnL and the trading day."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.portfolio.core import Portfolio, PortfolioError
from streams.avro import registry

DAY_MS = 86_400_000
T0 = 1_678_060_800_000  # 2023-03-06 00:00 UTC
START = Decimal(100_000)


def fill(side: str, qty: str, price: str, fee: str = "0", t: int = T0, n: int = 0, **kw) -> dict:
    return {
        "event_id": f"f{n}",
        "ts_event": t,
        "bot_id": "b1",
        "venue": "v",
        "symbol": "BTC/USD",
        "side": side,
        "quantity": Decimal(qty),
        "price": Decimal(price),
        "fee": Decimal(fee),
        "fee_currency": "USD",
    } | kw


def bar(close: float, t: int) -> dict:
    return {"venue": "v", "symbol": "BTC/USD", "close": close, "ts_event": t}


def book() -> Portfolio:
    return Portfolio({"b1": ("USD", START)})


def test_round_trip_realizes_price_move_net_of_fees() -> None:
    p = book()
    p.on_fill(fill("BUY", "1", "100", "0.1", n=1))
    p.on_fill(fill("SELL", "1", "110", "0.11", n=2))
    snap = p.snapshot("b1", T0)
    assert snap["realized_pnl"] == Decimal("9.79")
    assert snap["cash"] == START + Decimal("9.79") and snap["equity"] == snap["cash"]
    assert snap["positions"][0]["quantity"] == 0


def test_short_then_flip_long_keeps_average_cost_of_the_open_part() -> None:
    p = book()
    p.on_fill(fill("SELL", "2", "100", n=1))
    p.on_fill(fill("BUY", "3", "90", n=2))  # closes 2 short (+20), opens 1 long at 90
    snap = p.snapshot("b1", T0)
    pos = snap["positions"][0]
    assert snap["realized_pnl"] == Decimal(20)
    assert pos["quantity"] == 1 and pos["avg_cost"] == Decimal(90)


trades = st.lists(
    st.tuples(
        st.sampled_from(["BUY", "SELL", "MARK"]),
        st.decimals("0.0001", "3", places=4),
        st.decimals("15000", "30000", places=2),
        st.decimals("0", "5", places=6),
        st.integers(0, 3 * DAY_MS),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(trades)
def test_books_balance_to_the_last_decimal_after_every_event(stream: list) -> None:
    p = book()
    net = Decimal(0)
    for n, (side, qty, price, fee, dt_ms) in enumerate(sorted(stream, key=lambda x: x[4])):
        t = T0 + dt_ms
        if side == "MARK":
            p.on_mark(bar(float(price), t))
        else:
            p.on_fill(fill(side, str(qty), str(price), str(fee), t=t, n=n))
            net += qty if side == "BUY" else -qty
        snap = p.snapshot("b1", t)
        positions = snap["positions"]
        assert sum((x["quantity"] for x in positions), Decimal(0)) == net
        mtm = sum((x["quantity"] * x["mark"] for x in positions), Decimal(0))
        assert snap["equity"] == snap["cash"] + mtm
        assert snap["equity"] == START + snap["realized_pnl"] + snap["unrealized_pnl"]
        assert snap["peak_equity"] >= snap["equity"] and snap["drawdown"] >= 0
        registry().encode("PortfolioSnapshot", snap)


def test_daily_pnl_starts_over_at_the_utc_day_boundary() -> None:
    p = book()
    p.on_fill(fill("BUY", "1", "100", n=1))
    p.on_mark(bar(150.0, T0 + 1000))
    assert p.snapshot("b1", T0 + 1000)["daily_pnl"] == 50
    p.on_mark(bar(160.0, T0 + DAY_MS + 5))  # first event of the next day: start = 150 mark
    snap = p.snapshot("b1", T0 + DAY_MS + 5)
    assert snap["trading_day"] == "2023-03-07" and snap["daily_pnl"] == 10


def test_unknown_bot_and_foreign_fee_currency_are_refused_with_a_reason() -> None:
    p = book()
    with pytest.raises(PortfolioError, match="unknown bot 'zz'"):
        p.on_fill(fill("BUY", "1", "100", bot_id="zz"))
    with pytest.raises(PortfolioError, match="fee in BNB"):
        p.on_fill(fill("BUY", "1", "100", "0.01", fee_currency="BNB"))


def test_books_survive_a_restart_through_their_table_state() -> None:
    """What the agent writes to ``portfolio-books`` gives back the same books, day included."""
    import json

    from agents.portfolio.core import BotBook

    p = book()
    p.on_fill(fill("BUY", "2", "100", "0.2", n=1))
    p.on_mark(bar(90.0, T0 + 1000))
    p.on_mark(bar(95.0, T0 + DAY_MS + 5))  # a new UTC day: its start equity is set
    before = p.snapshot("b1", T0 + DAY_MS + 10)
    restored = book()
    restored.books["b1"] = BotBook.from_state(json.loads(json.dumps(p.books["b1"].to_state())))
    assert restored.snapshot("b1", T0 + DAY_MS + 10) == before
    for q in (p, restored):
        q.on_fill(fill("SELL", "1", "97", "0.1", t=T0 + DAY_MS + 20, n=2))
    assert restored.snapshot("b1", T0 + DAY_MS + 30) == p.snapshot("b1", T0 + DAY_MS + 30)
    assert p.snapshot("b1", T0 + 5)["ts_event"] == T0 + DAY_MS + 30  # never back in time


def test_a_product_finer_than_the_event_scale_is_rounded_in_the_snapshot_not_a_crash() -> None:
    """A quantity with 12 decimals at a price with 8 gives a value with 20: the snapshot
    carries it at the events' 18 (half even) and encodes; the books stay exact (the
    control-plane drill once crash-looped the desk core on exactly this)."""
    p = book()
    p.on_fill(fill("BUY", "0.123456789012", "23140.48123457", n=1))
    p.on_mark(bar(23141.12345679, T0 + 60_000))
    snap = p.snapshot("b1", T0 + 60_000)
    exact = p.books["b1"].positions["v:BTC/USD"].market_value()
    assert exact.as_tuple().exponent < -18  # the books keep the exact product
    pos = snap["positions"][0]
    assert pos["market_value"] == exact.quantize(Decimal("1e-18"))
    assert snap["equity"].as_tuple().exponent >= -18
    _name, back = registry().decode(registry().encode("PortfolioSnapshot", snap))
    assert back["positions"][0]["market_value"] == pos["market_value"]
    small = book()  # a figure already within the scale is carried as it is
    small.on_fill(fill("BUY", "1", "100", n=1))
    assert str(small.snapshot("b1", T0)["cash"]) == str(START - 100)
