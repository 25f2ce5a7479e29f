"""The order path in process on a real day: exact ledger, byte-identical fills, kill/resume."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from functools import cache

import pytest

from connectors.feeds.files import read_files
from streams.avro import registry
from streams.config import DeskConfig, load_config
from streams.engine import Engine, Output
from streams.ids import event_id
from tests.conftest import SHARED_DATA

CRYPTO = SHARED_DATA / "crypto_1m"
pytestmark = pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present")
DAY_MS = 86_400_000


@cache
def day() -> tuple[dict, ...]:
    """2023-03-10, the day before the de-peg: BTC in USD, USDT and USDC, merged by event time."""
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    start = bars[0]["open_time"] + 9 * DAY_MS
    return tuple(b for b in bars if start <= b["open_time"] < start + DAY_MS)


def config(seed: int = 7) -> DeskConfig:
    cfg = load_config()
    venues = {k: v.model_copy(update={"seed": seed}) for k, v in cfg.venues.items()}
    return cfg.model_copy(update={"venues": venues})


def run(seed: int = 7, wire: bool = False) -> tuple[Engine, Output]:
    loop = Engine.for_desk(config(seed), wire=wire)
    return loop, loop.run(day())


def signed(fill: dict) -> Decimal:
    return fill["quantity"] if fill["side"] == "BUY" else -fill["quantity"]


def assert_exact_ledger(loop: Engine, out: Output) -> None:
    """Σ signed fills = position per bot and symbol; cash + Σ qty × mark = equity, exactly."""
    fills: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for f in out.topic("fills"):
        fills[(f["bot_id"], f"{f['venue']}:{f['symbol']}")] += signed(f)
    books = loop.nodes["portfolio"].portfolio.books
    held = {(b, k): p.quantity for b, book in books.items() for k, p in book.positions.items()}
    assert {k: v for k, v in fills.items() if v} == {k: v for k, v in held.items() if v}
    for snap in out.topic("portfolio.snapshots"):
        value = sum((p["quantity"] * p["mark"] for p in snap["positions"]), Decimal(0))
        assert snap["cash"] + value == snap["equity"]
        start = loop.config.bot(snap["bot_id"]).starting_cash
        assert snap["equity"] == start + snap["realized_pnl"] + snap["unrealized_pnl"]


def test_a_real_day_runs_intents_to_positions_with_an_exact_ledger() -> None:
    loop, out = run()
    counts = Counter(t for t, _k, _e in out.events)
    assert counts["market.bars.clean"] == len(day())
    bots = {f["bot_id"] for f in out.topic("fills")}
    assert bots == {"trend-btc", "mm-btc"}  # both reference strategies traded
    # every intent gets exactly one decision; every approval exactly one command
    decisions = {d["intent_id"]: d for d in out.topic("risk.decisions")}
    assert sorted(decisions) == sorted(i["event_id"] for i in out.topic("orders.intents"))
    approved = {d["event_id"] for d in decisions.values() if d["decision"] == "APPROVE"}
    commanded = [c["decision_id"] for c in out.topic("orders.commands")]
    assert sorted(commanded) == sorted(approved)
    for d in decisions.values():
        assert d["checks"] and (d["decision"] == "APPROVE") == (not d["reasons"])
    assert_exact_ledger(loop, out)
    # every event is a valid Avro record of its topic: ready for the ClickHouse sink
    reg = registry()
    schema = {"orders.intents": "OrderIntent", "risk.decisions": "RiskDecision",
              "orders.commands": "OrderCommand", "orders.events": "OrderEvent",
              "fills": "Fill", "venue.reports": "VenueReport",
              "portfolio.snapshots": "PortfolioSnapshot"}  # fmt: skip
    for topic, _key, event in out.events:
        if topic in schema:
            reg.encode(schema[topic], event)
    assert len({e["event_id"] for _t, _k, e in out.events}) == len(out.events)


def test_events_through_their_wire_form_give_the_same_books() -> None:
    """Avro hands decimals back at scale 18; the cores must keep products in the schema."""
    enc = registry().encode
    _loop, direct = run()
    wire_loop, wired = run(wire=True)
    assert [enc("Fill", f) for f in wired.topic("fills")] == [
        enc("Fill", f) for f in direct.topic("fills")
    ]
    assert [enc("VenueReport", r) for r in wired.topic("venue.reports")] == [
        enc("VenueReport", r) for r in direct.topic("venue.reports")
    ]
    assert_exact_ledger(wire_loop, wired)


def test_the_venue_report_agrees_with_the_books() -> None:
    loop, out = run()
    report = out.topic("venue.reports")[-1]
    balances = {b["asset"]: b["total"] for b in report["balances"]}
    cash: defaultdict[str, Decimal] = defaultdict(Decimal)
    base: defaultdict[str, Decimal] = defaultdict(Decimal)
    for book in loop.nodes["portfolio"].portfolio.books.values():
        if book.bot_id == "trend-fx":
            continue  # the sample venue is another account
        cash[book.quote_currency] += book.cash
        for p in book.positions.values():
            base[p.symbol.split("/")[0]] += p.quantity
    assert balances == {**cash, **base}


def test_same_seed_gives_byte_identical_fills_another_seed_other_partials() -> None:
    enc = registry().encode
    _l1, first = run(seed=7)
    _l2, second = run(seed=7)
    loop3, third = run(seed=8)
    as_bytes = [enc("Fill", f) for f in first.topic("fills")]
    assert as_bytes == [enc("Fill", f) for f in second.topic("fills")]
    assert [enc("PortfolioSnapshot", s) for s in first.topic("portfolio.snapshots")] == [
        enc("PortfolioSnapshot", s) for s in second.topic("portfolio.snapshots")
    ]
    partial = [(f["client_order_id"], f["quantity"]) for f in first.topic("fills")]
    other = [(f["client_order_id"], f["quantity"]) for f in third.topic("fills")]
    assert partial != other  # the seeded queue position moves passive fill sizes
    assert_exact_ledger(loop3, third)


def risk_command(kind: str, ts: int, **kw: object) -> dict:
    return {
        "event_id": event_id("risk_command", kind, ts),
        "ts_event": ts,
        "ts_ingest": ts,
        "source": "cli.desk",
        "correlation_id": None,
        "command": kind,
        "scope": kw.pop("scope", "desk"),
        "issued_by": "test",
        "reason": "test",
        "flatten": False,
        "confirmed": kw.pop("confirmed", False),
        "limits": {},
        "evidence": {},
    }


def test_kill_denies_everything_cancels_open_orders_and_only_a_confirmed_resume_lifts_it() -> None:
    bars = day()
    loop = Engine.for_desk(config())
    loop.run(bars[:1500])
    mm = loop.nodes["venue-paper"].venues.venues[("binanceus", "main")]
    assert any(o.is_open for o in mm.orders.values())  # the market maker has quotes resting
    kill_ts = bars[1499]["ts_event"]
    mark = len(loop.out.events)
    loop.on_risk_command(risk_command("KILL", kill_ts))
    assert not any(o.is_open for o in mm.orders.values())
    canceled = [e for t, _k, e in loop.out.events[mark:] if t == "orders.events"]
    assert canceled and {e["status"] for e in canceled} == {"CANCELED"}
    loop.run(bars[1500:2400])
    after = [e for t, _k, e in loop.out.events[mark:] if t == "risk.decisions"]
    new = [d for d in after if d["checks"][0]["name"] != "cancel"]
    assert new and all(d["decision"] == "DENY" for d in new)  # only cancels still pass
    assert all(any(r.startswith("kill_switch") for r in d["reasons"]) for d in new)
    assert not [e for t, _k, e in loop.out.events[mark:] if t == "fills"]
    loop.on_risk_command(risk_command("RESUME", bars[2399]["ts_event"]))  # not confirmed
    assert loop.nodes["risk"].risk.states.killed("mm-btc")
    loop.on_risk_command(risk_command("RESUME", bars[2399]["ts_event"] + 1, confirmed=True))
    mark = len(loop.out.events)
    loop.run(bars[2400:])
    resumed = [e for t, _k, e in loop.out.events[mark:] if t == "risk.decisions"]
    assert any(d["decision"] == "APPROVE" for d in resumed)
    assert_exact_ledger(loop, loop.out)


class _Echo:
    """A node that logs what it handles and answers ``a`` with one ``b``."""

    def __init__(self, name: str, log: list[tuple[str, str, int]]) -> None:
        self.name, self.log = name, log

    def handle(self, topic: str, event: dict, ctx: object) -> None:
        self.log.append((self.name, topic, event["n"]))
        if topic == "a":
            ctx.emit("b", {"n": event["n"] * 10, "bot_id": "x"})  # type: ignore[attr-defined]


def test_the_engine_routes_depth_first_in_the_declared_order_never_back_to_the_sender(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streams.engine as engine_mod

    monkeypatch.setattr(engine_mod, "key_of", lambda topic, e: f"{topic}:{e['n']}")
    log: list[tuple[str, str, int]] = []
    first, second = _Echo("first", log), _Echo("second", log)
    # both read a and b; for b, second goes first
    engine = Engine([("first", first, ("a", "b")), ("second", second, ("a", "b"))],
                    order={"b": ("second",)})  # fmt: skip
    engine.feed("a", {"n": 1})
    engine.feed("a", {"n": 2})
    assert log == [
        ("first", "a", 1), ("second", "b", 10),  # first's b, handled before second sees a
        ("second", "a", 1), ("first", "b", 10),  # and second's b goes to first only
        ("first", "a", 2), ("second", "b", 20), ("second", "a", 2), ("first", "b", 20),
    ]  # fmt: skip
    assert [(t, k) for t, k, _ in engine.out.events] == [("b", "b:10"), ("b", "b:10"),
                                                        ("b", "b:20"), ("b", "b:20")]  # fmt: skip
