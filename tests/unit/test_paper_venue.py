"""The paper venue's pure core on one real day of Binance.US BTC/USDT 1m bars."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from agents.paper_venue.core import SYNTHETIC_BIAS, PaperVenue
from connectors.feeds.files import read_bars
from streams.avro import registry
from streams.config import FeeProfile
from streams.ids import event_id
from tests.conftest import SHARED_DATA

PATH = SHARED_DATA / "crypto_1m" / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"
DAY = 86_400_000
FEES = FeeProfile(maker_bps=Decimal("2"), taker_bps=Decimal("7.5"))
START = {"USDT": Decimal("1000000"), "BTC": Decimal("10")}
SYM = "BTC/USDT"

pytestmark = pytest.mark.skipif(not PATH.is_file(), reason=f"{PATH} not present")

Event = dict[str, Any]


@cache
def day_bars() -> tuple[Event, ...]:
    """The first UTC day (2023-03-01) of the file, 1440 clean bars."""
    bars = read_bars(PATH).bars
    t0 = bars[0]["open_time"]
    return tuple(b for b in bars if b["open_time"] < t0 + DAY)


def venue(seed: int = 7, **kw: Any) -> PaperVenue:
    return PaperVenue("paper", "main", FEES, seed, balances=START, **kw)


def cmd(ts: int, cid: str | None, *, command: str = "SUBMIT", **kw: Any) -> Event:
    base: Event = {
        "event_id": event_id("cmd", cid, command, ts),
        "ts_event": ts,
        "ts_ingest": ts,
        "source": "test",
        "correlation_id": None,
        "bot_id": "bot1",
        "venue": "paper",
        "account": "main",
        "command": command,
        "symbol": SYM,
        "client_order_id": cid,
        "side": None,
        "order_type": None,
        "quantity": None,
        "limit_price": None,
        "time_in_force": "GTC",
        "decision_id": None,
        "reason": "",
    }
    return base | kw


def submit(
    ts: int, cid: str, side: str, kind: str, qty: str, limit: str | None = None, tif: str = "GTC"
) -> Event:
    return cmd(
        ts,
        cid,
        side=side,
        order_type=kind,
        quantity=Decimal(qty),
        limit_price=None if limit is None else Decimal(limit),
        time_in_force=tif,
    )


def encode_all(events: list[Event]) -> list[bytes]:
    """Every event must fit its Avro schema."""
    reg = registry()
    out = []
    for e in events:
        name = "Fill" if "trade_id" in e else "OrderEvent"
        out.append(reg.encode(name, e))
    return out


def run(v: PaperVenue, commands: list[Event], bars: tuple[Event, ...]) -> list[Event]:
    """Feed commands and bars in event-time order (a command at a bar's close goes after it)."""
    todo = sorted(commands, key=lambda c: c["ts_event"])
    events: list[Event] = []
    for bar in bars:
        while todo and todo[0]["ts_event"] < bar["ts_event"]:
            events += v.on_command(todo.pop(0))
        events += v.on_bar(bar)
    for c in todo:
        events += v.on_command(c)
    encode_all(events)
    return events


def statuses(events: list[Event], cid: str) -> list[str]:
    return [e["status"] for e in events if e.get("client_order_id") == cid and "status" in e]


def fills(events: list[Event], cid: str | None = None) -> list[Event]:
    return [e for e in events if "trade_id" in e and cid in (None, e["client_order_id"])]


def bar_at(i: int) -> Event:
    return day_bars()[i]


# -- lifecycle ----------------------------------------------------------------------------------


def test_accept_after_latency_and_no_fill_before_activation() -> None:
    v = venue(latency_ms=90_000)  # arrives 1.5 bars later
    b0 = bar_at(0)
    (ack,) = v.on_command(submit(b0["ts_event"], "m1", "BUY", "MARKET", "0.01"))
    assert ack["status"] == "ACCEPTED" and ack["ts_event"] == b0["ts_event"] + 90_000
    assert v.on_bar(bar_at(1)) == []  # closes before arrival
    out = v.on_bar(bar_at(2))
    assert statuses(out, "m1") == ["FILLED"] and fills(out)[0]["ts_event"] == bar_at(2)["ts_event"]
    encode_all([ack, *out])


def test_a_late_command_acts_in_the_venues_present_never_before_its_fills() -> None:
    """A stream whose bars run ahead of its orders: the venue has filled part of a resting
    order on later bars when a cancel stamped earlier arrives. The cancel acts now (after
    those fills), not in the past; an order arriving late is not filled by bars gone by."""
    v = venue()
    b0 = bar_at(0)
    v.on_command(submit(b0["ts_event"], "r1", "BUY", "LIMIT", "0.01", "100000"))
    out = [e for i in range(2, 6) for e in v.on_bar(bar_at(i))]  # the market moves on
    assert fills(out, "r1")
    last = max(e["ts_event"] for e in out)
    (cancel,) = v.on_command(cmd(b0["ts_event"] + 1_000, "r1", command="CANCEL"))
    assert cancel["status"] in ("CANCELED", "REJECTED") and cancel["ts_event"] >= last
    (late,) = v.on_command(submit(b0["ts_event"], "m2", "BUY", "MARKET", "0.01"))
    assert late["ts_event"] == bar_at(5)["ts_event"]  # the venue's clock, not the command's
    (fill,) = fills(v.on_bar(bar_at(6)), "m2")  # the next bar to close fills it
    assert fill["ts_event"] == bar_at(6)["ts_event"]


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"quantity": Decimal(0)}, "non-positive quantity"),
        ({"quantity": Decimal("-1")}, "non-positive quantity"),
        ({"order_type": "LIMIT", "limit_price": None}, "missing limit price"),
        ({"order_type": "LIMIT", "limit_price": Decimal("20000.000000001")}, "finer than the tick"),
        ({"quantity": Decimal("0.000000001")}, "finer than the lot step"),
        ({"symbol": "BTCUSDT"}, "not BASE/QUOTE"),
        ({"venue": "other"}, "not this venue"),
    ],
)
def test_submit_rejects_with_reason(kw: dict[str, Any], reason: str) -> None:
    c = submit(bar_at(0)["ts_event"], "x1", "BUY", "MARKET", "0.01") | kw
    (ev,) = venue().on_command(c)
    assert ev["status"] == "REJECTED" and reason in ev["reason"]
    encode_all([ev])


def test_duplicate_client_id_and_unknown_cancel_are_rejected() -> None:
    v = venue()
    ts = bar_at(0)["ts_event"]
    assert (
        v.on_command(submit(ts, "d1", "BUY", "LIMIT", "0.01", "20000"))[0]["status"] == "ACCEPTED"
    )
    (dup,) = v.on_command(submit(ts + 1, "d1", "BUY", "LIMIT", "0.01", "20000"))
    assert dup["status"] == "REJECTED" and "duplicate" in dup["reason"]
    (unk,) = v.on_command(cmd(ts + 2, "nope", command="CANCEL"))
    assert unk["status"] == "REJECTED" and "unknown client order id" in unk["reason"]
    encode_all([dup, unk])


def test_post_only_that_would_cross_is_rejected() -> None:
    v = venue()
    b0 = bar_at(0)
    v.on_bar(b0)
    above = str((Decimal(str(b0["close"])) * Decimal("1.001")).quantize(Decimal("0.01")))
    (cross,) = v.on_command(submit(b0["ts_event"], "p1", "BUY", "POST_ONLY", "0.01", above))
    assert cross["status"] == "REJECTED" and "cross the ask" in cross["reason"]
    (rest,) = v.on_command(submit(b0["ts_event"], "p2", "BUY", "POST_ONLY", "0.01", "20000"))
    assert rest["status"] == "ACCEPTED"


def test_cancel_and_cancel_all() -> None:
    v = venue()
    ts = bar_at(0)["ts_event"]
    for cid in ("c1", "c2", "c3"):
        v.on_command(submit(ts, cid, "BUY", "LIMIT", "0.01", "10000"))
    (ev,) = v.on_command(cmd(ts + 1000, "c1", command="CANCEL"))
    assert ev["status"] == "CANCELED" and ev["ts_event"] == ts + 1000 + 250
    (again,) = v.on_command(cmd(ts + 2000, "c1", command="CANCEL"))
    assert again["status"] == "REJECTED" and "already CANCELED" in again["reason"]
    out = v.on_command(cmd(ts + 3000, None, command="CANCEL_ALL", symbol=None, bot_id="*"))
    assert [e["client_order_id"] for e in out] == ["c2", "c3"]
    assert {e["status"] for e in out} == {"CANCELED"} and v.report(ts)["open_orders"] == []
    encode_all([ev, again, *out])


def test_closed_orders_are_forgotten_past_a_bound_open_ones_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A venue that runs for months keeps a state of the same size (it is checkpointed
    every second): only the latest ``CLOSED_KEPT`` closed orders are remembered."""
    import pickle

    from agents.paper_venue import core

    monkeypatch.setattr(core, "CLOSED_KEPT", 5)
    v = venue()
    ts = bar_at(0)["ts_event"]
    v.on_command(submit(ts, "resting", "BUY", "LIMIT", "0.01", "10000"))
    for i in range(20):
        v.on_command(submit(ts + i, f"c{i}", "BUY", "LIMIT", "0.01", "10000"))
        v.on_command(cmd(ts + i, f"c{i}", command="CANCEL"))
    assert set(v.orders) == {"resting", "c15", "c16", "c17", "c18", "c19"}
    (again,) = v.on_command(cmd(ts + 30, "c19", command="CANCEL"))
    assert "already CANCELED" in again["reason"]
    (old,) = v.on_command(cmd(ts + 31, "c0", command="CANCEL"))
    assert "unknown client order id" in old["reason"]
    assert [o["client_order_id"] for o in v.report(ts + 32)["open_orders"]] == ["resting"]
    # a venue pickled before it forgot closed orders forgets them once taken back
    del v.__dict__["_closed"]
    for i in range(20, 30):
        v.orders[f"c{i}"] = v.orders["c19"]
    back = pickle.loads(pickle.dumps(v))
    assert len(back.orders) == 6 and "resting" in back.orders


def test_day_order_expires_at_utc_midnight() -> None:
    bars = day_bars()
    nxt = read_bars(PATH).bars[len(bars)]  # the first bar of 2023-03-02
    v = venue()
    run(v, [submit(bars[0]["ts_event"], "day1", "BUY", "LIMIT", "0.01", "1000", "DAY")], bars)
    out = v.on_bar(nxt)
    assert statuses(out, "day1") == ["EXPIRED"]
    assert out[0]["ts_event"] == nxt["open_time"] and nxt["open_time"] % DAY == 0
    encode_all(out)


def test_ioc_remainder_is_canceled() -> None:
    bars = day_bars()
    i = next(k for k in range(5, len(bars)) if bars[k]["volume"] > 1)
    qty = Decimal(str(bars[i]["volume"])) * 10  # far more than the 10% cap
    ev = run(
        venue(),
        [
            submit(
                bars[i - 1]["ts_event"] - 1000,
                "i1",
                "BUY",
                "MARKET",
                str(qty.quantize(Decimal("1e-6"))),
                tif="IOC",
            )
        ],
        bars[: i + 3],
    )
    assert statuses(ev, "i1") == ["ACCEPTED", "PARTIALLY_FILLED", "CANCELED"]
    assert ev[-1]["reason"] == "IOC remainder"
    assert sum(f["quantity"] for f in fills(ev)) < qty


def test_fok_all_or_cancel() -> None:
    bars = day_bars()
    i = next(k for k in range(5, len(bars)) if bars[k]["volume"] > 1)
    ts = bars[i - 1]["ts_event"] - 1000
    big, small = str(Decimal(str(bars[i]["volume"])).quantize(Decimal("1e-6"))), "0.001"
    ev = run(
        venue(),
        [
            submit(ts, "f1", "BUY", "MARKET", big, tif="FOK"),
            submit(ts, "f2", "SELL", "MARKET", small, tif="FOK"),
        ],
        bars[: i + 3],
    )
    assert statuses(ev, "f1") == ["ACCEPTED", "CANCELED"] and not fills(ev, "f1")
    assert statuses(ev, "f2") == ["ACCEPTED", "FILLED"]
    assert sum(f["quantity"] for f in fills(ev, "f2")) == Decimal(small)


# -- fill models --------------------------------------------------------------------------------


def test_market_fills_cross_the_spread_and_pay_taker_fees() -> None:
    bars = day_bars()
    v = venue()
    ev = run(
        v,
        [
            submit(bars[9]["ts_event"], "mb", "BUY", "MARKET", "0.01"),
            submit(bars[9]["ts_event"], "ms", "SELL", "MARKET", "0.01"),
        ],
        bars[:12],
    )
    (buy,), (sell,) = fills(ev, "mb"), fills(ev, "ms")
    close = Decimal(str(bars[10]["close"]))
    assert buy["ts_event"] == bars[10]["ts_event"]
    assert buy["price"] > close > sell["price"]
    for f in (buy, sell):
        assert f["liquidity"] == "TAKER" and f["fee_currency"] == "USDT"
        assert f["fee"] == (f["price"] * f["quantity"] * FEES.taker_bps / 10_000).quantize(
            Decimal("1e-12")
        )


def test_market_slippage_grows_with_size() -> None:
    bars = day_bars()
    i = next(k for k in range(5, len(bars)) if bars[k]["volume"] > 1)
    ts = bars[i - 1]["ts_event"]
    small = fills(run(venue(), [submit(ts, "s", "BUY", "MARKET", "0.001")], bars[: i + 1]))[0]
    large = fills(run(venue(), [submit(ts, "l", "BUY", "MARKET", "0.09")], bars[: i + 1]))[0]
    assert large["price"] > small["price"]


def _touch_and_through(side: str) -> tuple[int, int]:
    """Bars k (touch only: the extreme equals an earlier bar's extreme) and a trade-through."""
    bars = day_bars()
    key = "low" if side == "BUY" else "high"
    for k in range(10, len(bars)):
        lvl = bars[k][key]
        later = [j for j in range(k + 1, min(k + 120, len(bars)))]
        touch = [j for j in later if bars[j][key] == lvl]
        beyond = [j for j in later if (bars[j][key] < lvl if side == "BUY" else bars[j][key] > lvl)]
        if touch and beyond and touch[0] < beyond[0]:
            return touch[0], beyond[0]
    raise AssertionError("no touch-then-through pattern in the day")


@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_limit_fills_only_on_trade_through_never_on_touch(side: str) -> None:
    bars = day_bars()
    touch, through = _touch_and_through(side)
    price = str(bars[touch]["low" if side == "BUY" else "high"])
    v = venue()
    events = run(
        v,
        [submit(bars[touch - 1]["ts_event"] - 60_000, "L", side, "LIMIT", "0.0001", price)],
        bars[: touch + 1],
    )
    assert not fills(events), "a touch is not a fill"
    events = [e for b in bars[touch + 1 : through + 1] for e in v.on_bar(b)]
    got = fills(events)
    assert got and got[0]["ts_event"] == bars[through]["ts_event"]
    assert all(f["price"] == Decimal(price) and f["liquidity"] == "MAKER" for f in got)
    assert got[0]["fee"] == (Decimal(price) * got[0]["quantity"] * FEES.maker_bps / 10_000)


def test_partial_fills_bounded_by_volume_share() -> None:
    bars = day_bars()
    v = venue(volume_share=Decimal("0.05"))
    ev = run(v, [submit(bars[0]["ts_event"], "big", "BUY", "LIMIT", "1000", "1000000")], bars)
    by_bar = {b["ts_event"]: Decimal(str(b["volume"])) * Decimal("0.05") for b in bars}
    got = fills(ev)
    assert len(got) > 100 and "PARTIALLY_FILLED" in statuses(ev, "big")
    assert all(f["quantity"] <= by_bar[f["ts_event"]] for f in got)
    assert sum(f["quantity"] for f in got) < Decimal(1000)


# -- determinism and exactness --------------------------------------------------------------------


def _scenario() -> list[Event]:
    bars = day_bars()
    out: list[Event] = []
    for n, k in enumerate(range(5, len(bars) - 60, 97)):
        side = "BUY" if n % 2 == 0 else "SELL"
        off = Decimal("0.999") if side == "BUY" else Decimal("1.001")
        limit = (Decimal(str(bars[k]["close"])) * off).quantize(Decimal("0.01"))
        out.append(submit(bars[k]["ts_event"], f"o{n}", side, "LIMIT", "0.5", str(limit)))
        out.append(submit(bars[k]["ts_event"], f"m{n}", side, "MARKET", "0.05", tif="IOC"))
    return out


def _fill_bytes(seed: int) -> tuple[list[bytes], PaperVenue, list[Event]]:
    v = venue(seed)
    ev = run(v, _scenario(), day_bars())
    return [registry().encode("Fill", f) for f in fills(ev)], v, ev


def test_same_seed_same_bytes_other_seed_other_partials_same_invariants() -> None:
    a, _, _ = _fill_bytes(1)
    b, _, _ = _fill_bytes(1)
    c, vc, evc = _fill_bytes(2)
    assert a and a == b
    assert a != c
    _, va, eva = _fill_bytes(1)
    for v, ev in ((va, eva), (vc, evc)):
        qty = {c["client_order_id"]: c["quantity"] for c in _scenario()}
        for cid, q in qty.items():
            assert sum(f["quantity"] for f in fills(ev, cid)) <= q
        _check_balances(v, fills(ev))


def _check_balances(v: PaperVenue, got: list[Event]) -> None:
    """Balances move by exactly price × qty ± fee (Decimal equality), positions by qty."""
    base, quote = START["BTC"], START["USDT"]
    for f in got:
        sign = 1 if f["side"] == "BUY" else -1
        base += sign * f["quantity"]
        quote -= sign * f["price"] * f["quantity"] + f["fee"]
    rep = v.report(day_bars()[-1]["ts_event"])
    totals = {b["asset"]: b["total"] for b in rep["balances"]}
    assert totals == {"BTC": base, "USDT": quote}
    (pos,) = rep["positions"]
    assert pos["quantity"] == base - START["BTC"]
    assert len(rep["fills"]) == len(got)
    registry().encode("VenueReport", rep)


def test_report_fills_since_last_report_and_open_orders() -> None:
    bars = day_bars()
    v = venue()
    run(
        v,
        [
            submit(bars[0]["ts_event"], "r1", "BUY", "MARKET", "0.01"),
            submit(bars[0]["ts_event"], "r2", "BUY", "LIMIT", "0.01", "1000"),
        ],
        bars[:5],
    )
    first = v.report(bars[4]["ts_event"])
    assert [f["client_order_id"] for f in first["fills"]] == ["r1"]
    assert [o["client_order_id"] for o in first["open_orders"]] == ["r2"]
    usdt = next(b for b in first["balances"] if b["asset"] == "USDT")
    assert usdt["total"] - usdt["free"] == Decimal("10.00")  # r2's 0.01 × 1000 held
    assert v.report(bars[4]["ts_event"] + 1)["fills"] == []
    registry().encode("VenueReport", first)


def test_synthetic_bias_carried_into_fills_recorded_quote_is_not() -> None:
    bars = day_bars()
    ev = run(venue(), [submit(bars[0]["ts_event"], "b1", "BUY", "MARKET", "0.01")], bars[:3])
    assert fills(ev)[0]["fill_model_bias"] == SYNTHETIC_BIAS
    v = venue()
    v.on_command(submit(bars[0]["ts_event"], "b2", "BUY", "MARKET", "0.01"))
    quote = {"bid": bars[1]["close"] - 1, "ask": bars[1]["close"] + 1, "fill_model_bias": None}
    (_, fill) = v.on_bar(bars[1], quote)
    assert fill["fill_model_bias"] is None
    assert fill["price"] >= Decimal(str(bars[1]["close"] + 1))


def test_cancel_all_scoped_by_bot_and_kill_switch_by_symbol() -> None:
    v = venue()
    ts = bar_at(0)["ts_event"]
    v.on_command(submit(ts, "a1", "BUY", "LIMIT", "0.01", "10000"))
    v.on_command(submit(ts, "b1", "BUY", "LIMIT", "0.01", "10000") | {"bot_id": "bot2"})
    out = v.on_command(cmd(ts + 10, None, command="CANCEL_ALL", bot_id="bot2"))
    assert [(e["client_order_id"], e["bot_id"]) for e in out] == [("b1", "bot2")]
    v.on_bar(bar_at(1))
    killed = v.cancel_all(SYM)
    assert [e["client_order_id"] for e in killed] == ["a1"]
    assert killed[0]["ts_event"] == bar_at(1)["ts_event"] and killed[0]["status"] == "CANCELED"
    assert v.cancel_all() == []
    encode_all([*out, *killed])


def test_a_restored_venue_carries_on_byte_for_byte() -> None:
    """Stopped halfway, its state through JSON (as the checkpoint keeps it), restored into a
    fresh venue: the rest of the day gives the very events an uninterrupted venue gives."""
    import json

    bars, commands = day_bars(), _scenario()
    whole = run(venue(3), commands, bars)
    half = len(bars) // 2
    cut = bars[half]["ts_event"]
    first = venue(3)
    before = run(first, [c for c in commands if c["ts_event"] < cut], bars[:half])
    state = json.loads(json.dumps(first.to_state()))
    assert state["working"] and state["unreported"]  # resting orders, fills not yet reported
    second = venue(99)  # another seed: the fill model's RNG state comes from the checkpoint
    second.restore(state)
    after = run(second, [c for c in commands if c["ts_event"] >= cut], bars[half:])
    assert encode_all(before + after) == encode_all(whole)
    assert second.to_state() == json.loads(json.dumps(_continued(commands, bars).to_state()))
    _check_balances(second, fills(before + after))


def _continued(commands: list[Event], bars: tuple[Event, ...]) -> PaperVenue:
    v = venue(3)
    run(v, commands, bars)
    return v


# -- fill models and listed shares ---------------------------------------------------------------


def test_next_open_fills_a_market_order_whole_at_the_next_bars_open() -> None:
    v = venue(latency_ms=0, market_fill="next_open")
    b0, b1 = bar_at(0), bar_at(1)
    v.on_command(submit(b0["ts_event"], "m1", "BUY", "MARKET", "50"))  # far above the volume cap
    out = v.on_bar(b1)
    (f,) = fills(out, "m1")
    assert (f["price"], f["quantity"]) == (Decimal(str(b1["open"])), Decimal(50))
    assert statuses(out, "m1") == ["FILLED"]
    with pytest.raises(ValueError, match="market_fill"):
        venue(market_fill="at_will")


def test_a_listed_share_books_in_its_listing_currency() -> None:
    spy = {**bar_at(0), "symbol": "SPY", "interval": "1d", "volume": 1_000_000.0}
    order = submit(spy["ts_event"] - 86_400_000, "s1", "BUY", "MARKET", "10") | {"symbol": "SPY"}
    without = venue()
    (rej,) = without.on_command(order)
    assert rej["status"] == "REJECTED" and "not BASE/QUOTE" in rej["reason"]
    v = PaperVenue("paper", "main", FEES, 7, balances={"USD": Decimal(100_000)},
                   quotes={"SPY": "USD"})  # fmt: skip
    v.on_command(order)
    (f,) = fills(v.on_bar(spy), "s1")
    assert f["fee_currency"] == "USD"
    assert v.balances["SPY"] == Decimal(10)
    assert v.balances["USD"] == Decimal(100_000) - f["price"] * 10 - f["fee"]
