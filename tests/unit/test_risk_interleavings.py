"""Risk holds at any lag: random interleavings of intents, venue answers, fills, duplicates,
late answers, restarts and commands through ``RiskDesk`` (hypothesis).

The venue here is a plain simulation: it answers the orders risk approved in any
order, late, twice, or never; fills never exceed an order. At every step:

* the worst case (every open order filled on its unfavourable side) respects the
  position, gross and net limits, and the cash a bot may spend;
* a long-only bot is never short, not even in the worst case;
* nothing new is approved between a kill and a confirmed resume;
* a restart (risk as the core's checkpoint holds it) and a config change (risk's books
  and reservations carried into a new one) keep all of it.
"""

from __future__ import annotations

import json
import pickle
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.risk.desk import RiskDesk
from streams.config import DeskConfig, load_config

T0 = 1_678_000_000_000
MARK = Decimal("20000")
BOT, VENUE, SYMBOL = "trend-btc", "binanceus", "BTC/USD"
KEY = f"{VENUE}:{SYMBOL}"


def config(allow_short: bool) -> DeskConfig:
    cfg = load_config()
    strategies = dict(cfg.strategies)
    trend = strategies["trend_ema"]
    strategies["trend_ema"] = trend.model_copy(
        update={"params": {**trend.params, "allow_short": allow_short}}
    )
    limits = cfg.limits.model_copy(update={"max_orders_per_minute": 10_000})
    if allow_short:  # cash binds before the position limit: both are exercised
        wide = Decimal(150_000)
        limits = limits.model_copy(update={"max_position_notional": wide, "max_net_exposure": wide,
                                           "max_leverage": Decimal(3)})  # fmt: skip
    return cfg.model_copy(update={"strategies": strategies, "limits": limits})


def fresh(venue: str, symbol: str, ts: list[int]) -> dict[str, dict[str, Any]]:
    return {"1m": {"interval": "1m", "last_close": float(MARK), "last_bar_close": ts[0],
                   "critical": [], "stale": False}}  # fmt: skip


intent_op = st.tuples(
    st.just("intent"),
    st.sampled_from(["BUY", "SELL"]),
    st.decimals("0.01", "1.2", places=2),
    st.sampled_from(["MARKET", "LIMIT"]),
)
ops = st.lists(
    st.one_of(
        intent_op, intent_op, intent_op,
        st.tuples(st.just("ack"), st.integers(0, 50)),
        st.tuples(st.just("fill"), st.integers(0, 50), st.decimals("0.01", "1", places=2)),
        st.tuples(st.just("close"), st.integers(0, 50),
                  st.sampled_from(["CANCELED", "REJECTED", "EXPIRED", "FILLED"])),
        st.tuples(st.just("dup"), st.integers(0, 200)),
        st.tuples(st.just("restart")),
        st.tuples(st.just("config_change")),
        st.tuples(st.just("kill")),
        st.tuples(st.just("resume"), st.booleans()),
    ),
    min_size=30,
    max_size=80,
)  # fmt: skip


class Sim:
    """The desk around risk: a venue that answers approved orders as the test says."""

    def __init__(self, cfg: DeskConfig) -> None:
        self.cfg = cfg
        self.risk = RiskDesk(cfg)
        self.ts = [T0]
        self.orders: dict[str, dict[str, Any]] = {}  # approved, by client id
        self.delivered: list[tuple[str, dict[str, Any]]] = []  # for duplicates
        self.killed = False
        self.n = 0
        self.approved_while_killed: list[str] = []

    def tick(self) -> int:
        self.ts[0] += 1000
        return self.ts[0]

    def intent(self, side: str, qty: Decimal, kind: str) -> None:
        self.n += 1
        ts = self.tick()
        it = {"event_id": f"i{self.n}", "ts_event": ts, "ts_ingest": ts, "source": "t",
              "correlation_id": None, "bot_id": BOT, "strategy": "trend_ema", "venue": VENUE,
              "symbol": SYMBOL, "action": "NEW", "client_order_id": f"c{self.n}", "side": side,
              "order_type": kind, "quantity": qty,
              "limit_price": None if kind == "MARKET" else MARK, "time_in_force": "GTC",
              "reduce_only": False, "reason": "t"}  # fmt: skip
        decision, cmd = self.risk.decide(it, lambda v, s: fresh(v, s, self.ts))
        if cmd is not None:
            self.orders[cmd["client_order_id"]] = {**cmd, "filled": Decimal(0), "open": True}
            if self.killed:  # a kill lets nothing through, reducing or not
                self.approved_while_killed.append(cmd["client_order_id"])
        assert decision["decision"] == ("APPROVE" if cmd else "DENY")

    def pick(self, i: int) -> dict[str, Any] | None:
        live = [o for o in self.orders.values() if o["open"]]
        return live[i % len(live)] if live else None

    def event(self, o: dict[str, Any], status: str) -> dict[str, Any]:
        return {"event_id": f"e{o['client_order_id']}{status}{o['filled']}",
                "ts_event": self.tick(), "bot_id": BOT, "client_order_id": o["client_order_id"],
                "status": status, "filled_quantity": o["filled"]}  # fmt: skip

    def deliver(self, kind: str, ev: dict[str, Any]) -> None:
        self.delivered.append((kind, ev))
        if kind == "fill":
            self.risk.on_fill(ev)
        else:
            self.risk.on_order_event(ev)

    def fill(self, o: dict[str, Any], qty: Decimal) -> None:
        qty = min(qty, o["quantity"] - o["filled"])
        if qty <= 0:
            return
        o["filled"] += qty
        ts = self.tick()
        self.deliver("fill", {
            "event_id": f"f{o['client_order_id']}-{o['filled']}", "ts_event": ts,
            "ts_ingest": ts, "bot_id": BOT, "venue": VENUE, "account": "main",
            "symbol": SYMBOL, "client_order_id": o["client_order_id"], "side": o["side"],
            "price": MARK, "quantity": qty, "fee": qty * MARK * Decimal("0.001"),
            "fee_currency": "USD"})  # fmt: skip
        if o["filled"] == o["quantity"]:
            o["open"] = False

    def restart(self) -> None:
        """A restarted desk: risk as the core's checkpoint saved it (the engine pickled);
        the inputs after it come again and are applied to it once."""
        self.risk = pickle.loads(pickle.dumps(self.risk, protocol=5))

    def config_change(self) -> None:
        """A restart under a changed config: a new risk that carries the old one's books,
        reservations and fill ids (through JSON), trading states and applied commands."""
        old = self.risk
        saved = json.loads(json.dumps(old.checkpoint()))
        self.risk = RiskDesk(self.cfg)
        self.risk.restore_checkpoint(saved)
        self.risk.states.bots = old.states.bots
        self.risk.applied_commands |= old.applied_commands
        # exactly what it reserved and held before: a closed order is not reserved again
        assert self.risk.exposure.to_state() == old.exposure.to_state()
        assert self.risk.checkpoint() == saved

    def command(self, kind: str, confirmed: bool = False) -> None:
        self.n += 1
        ts = self.tick()
        cmd = {"event_id": f"k{self.n}", "ts_event": ts, "ts_ingest": ts, "source": "t",
               "correlation_id": None, "command": kind, "scope": "desk", "issued_by": "ops",
               "reason": "drill", "flatten": False, "confirmed": confirmed, "limits": {},
               "evidence": {}}  # fmt: skip
        applied, _orders = self.risk.command(cmd)
        if applied.refused is None:
            self.killed = kind == "KILL" or (self.killed and kind != "RESUME")

    def check(self, allow_short: bool) -> None:
        """Against the simulation's own truth (what filled, what the venue still works), not
        risk's view of it."""
        lim = self.cfg.limits
        pos = sum(
            (o["filled"] if o["side"] == "BUY" else -o["filled"] for o in self.orders.values()),
            Decimal(0),
        )
        live = [o for o in self.orders.values() if o["open"]]
        buys = sum((o["quantity"] - o["filled"] for o in live if o["side"] == "BUY"), Decimal(0))
        sells = sum((o["quantity"] - o["filled"] for o in live if o["side"] == "SELL"), Decimal(0))
        long_side, short_side = pos + buys, pos - sells
        worst = max(abs(long_side), abs(short_side)) * MARK
        assert worst <= lim.max_position_notional, (pos, buys, sells)
        assert worst <= lim.max_gross_exposure and worst <= lim.max_net_exposure
        if not allow_short:
            assert pos >= 0 and short_side >= 0, (pos, buys, sells)
        cash = self.cfg.bot(BOT).starting_cash - sum(
            (
                (o["filled"] if o["side"] == "BUY" else -o["filled"]) * MARK
                + o["filled"] * MARK * Decimal("0.001")
                for o in self.orders.values()
            ),
            Decimal(0),
        )
        assert cash - buys * MARK * Decimal("1.001") >= 0, (cash, buys)
        assert not self.approved_while_killed


@settings(max_examples=600, deadline=None, derandomize=True)
@given(ops, st.booleans())
def test_worst_case_holds_through_any_interleaving(steps: list[tuple], allow_short: bool) -> None:
    sim = Sim(config(allow_short))
    for op in steps:
        kind = op[0]
        if kind == "intent":
            sim.intent(op[1], op[2], op[3])
        elif kind == "ack" and (o := sim.pick(op[1])) is not None:
            sim.deliver("event", sim.event(o, "ACCEPTED"))
        elif kind == "fill" and (o := sim.pick(op[1])) is not None:
            sim.fill(o, op[2])
        elif kind == "close" and (o := sim.pick(op[1])) is not None:
            if op[2] == "FILLED":
                sim.fill(o, o["quantity"])
                sim.deliver("event", sim.event(o, "FILLED"))
            else:
                status = "REJECTED" if o["filled"] else op[2]
                o["open"] = False
                sim.deliver("event", sim.event(o, status))
        elif kind == "dup" and sim.delivered:
            k, ev = sim.delivered[op[1] % len(sim.delivered)]
            sim.deliver(k, ev)  # late and twice: nothing moves again
        elif kind == "restart":
            sim.restart()
        elif kind == "config_change":
            sim.config_change()
        elif kind == "kill":
            sim.command("KILL")
        elif kind == "resume":
            sim.command("RESUME", confirmed=op[1])
        sim.check(allow_short)


def test_a_closing_order_past_the_cap_passes_and_an_opening_one_does_not() -> None:
    """A bot short 2 BTC ($40k) can buy it back in one order past the $25k cap (reduce-only);
    the same size opening a position is denied by the cap."""
    sim = Sim(config(allow_short=True))
    for _ in range(2):
        sim.intent("SELL", Decimal("1"), "MARKET")
        sim.fill(sim.pick(-1), Decimal("1"))  # type: ignore[arg-type]
    assert sim.risk.books.books[BOT].positions[KEY].quantity == Decimal("-2")
    sim.intent("BUY", Decimal("2"), "MARKET")
    assert sim.orders.get(f"c{sim.n}") is not None, "closing order approved"
    sim.intent("SELL", Decimal("1.5"), "MARKET")  # $30k opening: over the cap
    assert sim.orders.get(f"c{sim.n}") is None


def test_a_long_only_bot_cannot_sell_what_its_open_sells_already_cover() -> None:
    sim = Sim(config(allow_short=False))
    sim.intent("BUY", Decimal("1"), "MARKET")
    sim.fill(sim.pick(0), Decimal("1"))  # type: ignore[arg-type]
    sim.intent("SELL", Decimal("0.7"), "LIMIT")
    assert sim.orders.get(f"c{sim.n}") is not None
    sim.intent("SELL", Decimal("0.5"), "LIMIT")  # 0.7 + 0.5 > 1: could end short
    assert sim.orders.get(f"c{sim.n}") is None
    # the venue cancels the first sell: the second one fits again
    first = next(o for o in sim.orders.values() if o["side"] == "SELL")
    first["open"] = False
    sim.deliver("event", sim.event(first, "CANCELED"))
    sim.intent("SELL", Decimal("0.5"), "LIMIT")
    assert sim.orders.get(f"c{sim.n}") is not None


def test_open_buys_spend_the_cash_before_they_fill() -> None:
    """Four unfilled buys of 1.2 BTC reserve $96k of $100k: a fifth cannot be paid for, and
    is approved again once the venue cancels one of them."""
    sim = Sim(config(allow_short=True))
    for _ in range(4):
        sim.intent("BUY", Decimal("1.2"), "LIMIT")
    assert len(sim.orders) == 4
    sim.intent("BUY", Decimal("1.2"), "LIMIT")
    assert sim.orders.get(f"c{sim.n}") is None
    first = next(iter(sim.orders.values()))
    first["open"] = False
    sim.deliver("event", sim.event(first, "CANCELED"))
    sim.intent("BUY", Decimal("1.2"), "LIMIT")
    assert sim.orders.get(f"c{sim.n}") is not None


def test_an_unreadable_command_fails_closed_until_a_confirmed_resume() -> None:
    """A risk command that cannot be decoded may have been a kill: only reducing orders pass
    until an operator confirms a desk-wide resume."""
    sim = Sim(config(allow_short=False))
    sim.intent("BUY", Decimal("1"), "MARKET")
    sim.fill(sim.pick(0), Decimal("1"))  # type: ignore[arg-type]
    sim.risk.unreadable_command("risk.commands[0]@7")
    sim.intent("BUY", Decimal("0.1"), "MARKET")
    assert sim.orders.get(f"c{sim.n}") is None  # new exposure: denied
    sim.intent("SELL", Decimal("0.5"), "MARKET")
    assert sim.orders.get(f"c{sim.n}") is not None  # cutting the position: allowed
    sim.command("RESUME", confirmed=False)
    sim.intent("BUY", Decimal("0.1"), "MARKET")
    assert sim.orders.get(f"c{sim.n}") is None  # an unconfirmed resume lifts nothing
    sim.command("RESUME", confirmed=True)
    sim.intent("BUY", Decimal("0.1"), "MARKET")
    assert sim.orders.get(f"c{sim.n}") is not None


def test_one_symbol_cannot_outweigh_the_equity() -> None:
    """max_concentration: the worst case of one symbol against the bot's equity."""
    cfg = config(allow_short=True)
    tight = cfg.limits.model_copy(update={"max_concentration": Decimal("0.3")})
    sim = Sim(cfg.model_copy(update={"limits": tight}))
    sim.intent("BUY", Decimal("1"), "LIMIT")  # $20k of $100k: 0.2
    assert sim.orders.get(f"c{sim.n}") is not None
    sim.intent("BUY", Decimal("0.6"), "LIMIT")  # worst case $32k: 0.32
    assert sim.orders.get(f"c{sim.n}") is None
