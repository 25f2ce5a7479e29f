"""Pre-trade risk for the whole desk: the risk node of the engine (stream, replay, backtest).

Risk keeps its own books and never judges on a view that may lag its decisions:

* **filled** positions, cash, equity and PnL from the fills themselves (the
  portfolio core, fed by ``fills``, de-duplicated by event id);
* **reserved** exposure: every order it approved that is not yet terminal
  (``ExposureBook``, released by ``orders.events`` and ``fills``);
* **marks** from the data-quality freshness state of each stream (a mark older
  than the data-age limit leaves its leg unvalued: fail closed);
* **trading states** changed by ``RiskCommand`` events, and the desk-wide
  limits of portfolio risk measured on every ``PortfolioSnapshot`` (a breach
  applies its command here at once, before the next intent is judged).

Operator commands carry wall time; risk applies them at the desk's event-time
clock when that is earlier (a replay), so the cancels and closing orders they
cause belong to the stream's present. A missing input is passed on as unknown,
so the core denies: nothing is approved by default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from agents.portfolio.core import BotBook, Portfolio, PortfolioError
from agents.portfolio_risk.core import ISSUER, PortfolioRiskCore
from agents.risk.core import Leg, PreTradeRisk, RiskContext
from agents.risk.exposure import ExposureBook
from agents.risk.state import Applied, TradingStates
from agents.risk.watch import RiskWatch
from agents.strategies.base import build
from streams.config import DeskConfig
from streams.envelope import envelope
from streams.ids import event_id

SOURCE = "agent.risk"
FILLS_KEPT = 20_000  # fill ids in a checkpoint: far more than can be re-delivered
Freshness = Callable[[str, str], Mapping[str, Mapping[str, Any]] | None]


def latest_state(freshness: Mapping[str, Mapping[str, Any]] | None) -> Mapping[str, Any] | None:
    """Of a stream's per-interval freshness states, the one with the latest bar."""
    if not freshness:
        return None
    return max(freshness.values(), key=lambda s: (s.get("last_bar_close") or -1, s["interval"]))


def declared_sides(config: DeskConfig) -> dict[str, str]:
    """Each enabled bot's declared side, from its strategy (long-only unless it says so)."""
    out = {}
    for bot in config.bots:
        if bot.enabled:
            spec = config.strategies[bot.strategy]
            out[bot.id] = getattr(build(spec.kind, spec.params), "side", "long_only")
    return out


class RiskDesk:
    """Trading states + the pre-trade core + risk's own books, fed with the desk's events."""

    def __init__(self, config: DeskConfig) -> None:
        self.config = config
        self.states = TradingStates(config)
        self.core = PreTradeRisk()
        self.bots = {b.id: b for b in config.bots}
        self.books = Portfolio.from_config(config)
        self.exposure = ExposureBook()
        self.fills_seen: dict[str, None] = {}  # fill ids applied, oldest first
        self.sides = declared_sides(config)
        self.portfolio_risk = (
            None if config.portfolio_risk is None else PortfolioRiskCore(config.portfolio_risk)
        )
        self.clock: int | None = None  # the desk's event time: the latest event risk saw
        self.durable = True  # trading-state changes reach durable storage (the agent says)
        self.applied_commands: set[str] = set()
        self.watch = RiskWatch(config.risk.stuck_minutes * 60_000,
                               config.risk.ack_timeout_seconds * 1000)  # fmt: skip
        self.alerts: list[dict[str, Any]] = []  # raised by the watch, for the caller to send
        self.commands_unreadable: str | None = None  # a risk command could not be read
        # each command applied or refused, with the bots it changed and their states after
        # it: risk's record (``agents.risk.keeper`` writes it; nobody folds commands again)
        self.outcomes: list[dict[str, Any]] = []

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A risk pickled before it kept its outcomes (an older checkpoint)."""
        self.__dict__.update(state)
        self.__dict__.setdefault("outcomes", [])

    def drain_outcomes(self) -> list[dict[str, Any]]:
        out, self.outcomes = self.outcomes, []
        return out

    def unreadable_command(self, where: str) -> None:
        """A message on ``risk.commands`` could not be decoded: it may have been a kill.
        Fail closed (only reducing orders) until an operator's confirmed desk-wide RESUME."""
        self.commands_unreadable = (
            f"an unreadable risk command ({where}) may have been a kill: fail closed until a"
            " confirmed desk-wide RESUME"
        )

    def drain_alerts(self) -> list[dict[str, Any]]:
        out, self.alerts = self.alerts, []
        return out

    # -- inputs -------------------------------------------------------------------------------

    def _tick(self, ts: int) -> None:
        self.clock = ts if self.clock is None else max(self.clock, ts)

    def on_fill(self, fill: Mapping[str, Any]) -> bool:
        """Apply a fill once (re-deliveries are ignored); False if it was a duplicate."""
        if fill["event_id"] in self.fills_seen:
            return False
        self.fills_seen[fill["event_id"]] = None
        self._tick(int(fill["ts_event"]))
        if fill["bot_id"] in self.books.books:
            # a fill the books refuse is the portfolio agent's to dead-letter; it still releases
            with contextlib.suppress(PortfolioError):
                self.books.on_fill(fill)
        self.exposure.on_fill(fill)
        bot = fill["bot_id"]
        if bot in self.books.books and bot in self.states.bots:
            self.alerts += self.watch.on_book(
                bot, self._held(bot), self.sides.get(bot, "long_only"), self.states.limits(bot),
                int(fill["ts_event"]), fill["event_id"],
            )  # fmt: skip
        return True

    def _held(self, bot_id: str) -> list[Leg]:
        """The bot's filled positions at their last marks (no open orders)."""
        book = self.books.books[bot_id]
        return [Leg(k, p.quantity, mark=p.mark, mark_ts=p.mark_ts)
                for k, p in sorted(book.positions.items())]  # fmt: skip

    def on_order_event(self, ev: Mapping[str, Any]) -> None:
        self._tick(int(ev["ts_event"]))
        self.exposure.on_order_event(ev)
        self.watch.acked(ev["client_order_id"], ev["bot_id"])

    def on_snapshot(
        self, snap: Mapping[str, Any]
    ) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
        """Measure the desk-wide limits on a new book: the alerts and risk commands it calls
        for (``(topic, event)``) and the order commands those commands cause, already
        applied to the trading states (a breach bites before the next intent)."""
        self._tick(int(snap["ts_event"]))
        if self.portfolio_risk is None:
            return [], []
        actions = self.portfolio_risk.on_snapshot(snap)
        orders: list[dict[str, Any]] = []
        for topic, ev in actions:
            if topic == "risk.commands":
                orders += self.command(ev)[1]
        return actions, orders

    # -- decisions ----------------------------------------------------------------------------

    def _mark(
        self, venue: str, symbol: str, freshness: Freshness
    ) -> tuple[Decimal | None, int | None]:
        state = latest_state(freshness(venue, symbol))
        if state is None or state.get("last_close") is None:
            return None, None
        return Decimal(repr(state["last_close"])), state.get("last_bar_close")

    def legs(self, bot_id: str, freshness: Freshness) -> tuple[Leg, ...]:
        """Every symbol the bot holds or has open orders in, with its freshest mark."""
        book = self.books.books.get(bot_id)
        keys = set(self.exposure.symbols(bot_id)) | set(book.positions if book else ())
        out = []
        for key in sorted(keys):
            venue, _, symbol = key.partition(":")
            pos = book.positions.get(key) if book else None
            qty = pos.quantity if pos is not None else Decimal(0)
            res = self.exposure.reserved(bot_id, venue, symbol)
            mark, mark_ts = self._mark(venue, symbol, freshness)
            out.append(Leg(key, qty, res.buys, res.sells, mark, mark_ts))
        return tuple(out)

    def _remark(self, book: BotBook, legs: Iterable[Leg], ts: int) -> None:
        for g in legs:
            if g.mark is not None and g.mark_ts is not None:
                venue, _, symbol = g.key.partition(":")
                self.books.on_mark(
                    {
                        "venue": venue,
                        "symbol": symbol,
                        "close": float(g.mark),
                        "ts_event": g.mark_ts,
                    }
                )
        book.roll_day(ts)

    def context(
        self, intent: Mapping[str, Any], freshness: Freshness, blocked: str | None = None
    ) -> RiskContext:
        bot_id = intent["bot_id"]
        bot = self.bots.get(bot_id)
        allowed = frozenset(f"{bot.venue}:{s}" for s in bot.symbols) if bot else frozenset()
        limits = self.states.limits(bot_id) if bot_id in self.states.bots else self.config.limits
        state = latest_state(freshness(intent["venue"], intent["symbol"]))
        critical: tuple[str, ...] = ()
        mark = mark_ts = None
        if state is not None:
            mark, mark_ts = state.get("last_close"), state.get("last_bar_close")
            critical = tuple(
                sorted({*state.get("critical", ()), *(["stale"] if state.get("stale") else [])})
            )
        book = self.books.books.get(bot_id)
        legs = cash = equity = peak = daily = None
        open_buy_cash = Decimal(0)
        taker = Decimal(0)
        if book is not None and bot is not None:
            legs = self.legs(bot_id, freshness)
            self._remark(book, legs, int(intent["ts_event"]))
            book.after_change()
            cash, equity = book.cash, book.equity()
            peak, daily = book.peak_equity, equity - book.day_start_equity
            marks = {g.key: g.mark for g in legs if g.mark is not None}
            if mark is not None:
                marks.setdefault(f"{intent['venue']}:{intent['symbol']}", Decimal(repr(mark)))
            open_buy_cash = self.exposure.open_buy_cash(bot_id, marks)
            taker = self.config.fee_profiles[bot.fee_profile].taker_bps
        return RiskContext(
            account=bot.account if bot else "?",
            allowed_symbols=allowed,
            limits=limits,
            trading_state=self.states.state(bot_id),
            kill=self.states.killed(bot_id),
            mark=mark,
            mark_ts=mark_ts,
            data_critical=critical,
            legs=legs,
            cash=cash,
            open_buy_cash=open_buy_cash,
            equity=equity,
            peak_equity=peak,
            daily_pnl=daily,
            side=self.sides.get(bot_id, "long_only"),
            taker_bps=taker,
            durable=self.durable,
            blocked=blocked,
        )

    def decide(
        self, intent: Mapping[str, Any], freshness: Freshness, blocked: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Judge one intent; an approved order is reserved before anything else happens."""
        ts = int(intent["ts_event"])
        self._tick(ts)
        blocked = blocked or self.commands_unreadable
        decision, command = self.core.decide(intent, self.context(intent, freshness, blocked))
        if command is not None and command["command"] == "SUBMIT":
            self.exposure.on_submit(command)
        self.alerts += self.watch.on_decision(decision, intent["action"] == "NEW")
        late = self.exposure.overdue(ts, self.watch.ack_timeout_ms)
        self.alerts += self.watch.on_overdue(late, ts)
        return decision, command

    # -- commands -----------------------------------------------------------------------------

    def effective_ts(self, cmd: Mapping[str, Any]) -> int:
        """When a command takes effect in event time: its own, or, for an operator's command
        stamped with a wall clock ahead of the stream (a replay), the desk's event time."""
        ts = int(cmd["ts_event"])
        if cmd.get("issued_by") == ISSUER or self.clock is None:
            return ts
        return min(ts, self.clock)

    def command(self, cmd: Mapping[str, Any]) -> tuple[Applied, list[dict[str, Any]]]:
        """Apply a ``RiskCommand``; the cancel-all ``OrderCommand`` s it calls for, one per bot,
        then (``flatten``, off by default) a market order closing each position risk's books
        hold, after its cancel on the same partition, reserved like any approved order."""
        if cmd["event_id"] in self.applied_commands:
            return Applied(cmd, (), (), "already applied"), []
        self.applied_commands.add(cmd["event_id"])
        ts = self.effective_ts(cmd)
        applied = self.states.apply(cmd)
        if applied.refused is None and cmd["command"] == "RESUME" and cmd["scope"] == "desk":
            # a confirmed desk-wide resume lifts the breach latches and an unreadable command
            self.commands_unreadable = None
            if self.portfolio_risk is not None:
                self.portfolio_risk.resume()
        self.outcomes.append({
            "command": dict(cmd),
            "bots": list(applied.bots),
            "refused": applied.refused,
            "states": {b: self.states.bots[b].as_dict() for b in applied.bots},
        })  # fmt: skip
        out = []
        for b in applied.cancel:
            out.append(
                self._order(cmd, ts, b, "CANCEL_ALL", event_id("command", cmd["event_id"], b),
                            reason=f"{cmd['command']} by {cmd['issued_by']}: {cmd['reason']}")
            )  # fmt: skip
            if cmd.get("flatten"):
                for sub in self._flatten(cmd, ts, b):
                    self.exposure.on_submit(sub)
                    out.append(sub)
        return applied, out

    def _order(
        self, cmd: Mapping[str, Any], ts: int, bot_id: str, kind: str, eid: str, **kw: Any
    ) -> dict[str, Any]:
        bot = self.bots[bot_id]
        return {
            **envelope(eid, ts, SOURCE, ts_ingest=cmd["ts_ingest"], correlation_id=cmd["event_id"]),
            "bot_id": bot_id,
            "venue": bot.venue,
            "account": bot.account,
            "command": kind,
            "symbol": None,
            "client_order_id": None,
            "side": None,
            "order_type": None,
            "quantity": None,
            "limit_price": None,
            "time_in_force": "GTC",
            "decision_id": None,
            "reason": "",
        } | kw

    def _flatten(self, cmd: Mapping[str, Any], ts: int, bot_id: str) -> list[dict[str, Any]]:
        bot = self.bots[bot_id]
        book = self.books.books.get(bot_id)
        out = []
        for _key, p in sorted((book.positions if book else {}).items()):
            qty = p.quantity
            if not qty or p.venue != bot.venue:
                continue
            oid = event_id("flatten", cmd["event_id"], bot_id, p.symbol)
            out.append(
                self._order(
                    cmd, ts, bot_id, "SUBMIT", event_id("command", oid),
                    symbol=p.symbol,
                    client_order_id=f"{bot_id}-flat-{oid[:18]}",
                    side="SELL" if qty > 0 else "BUY",
                    order_type="MARKET",
                    quantity=abs(qty),
                    reason=f"flatten: {cmd['command']} by {cmd['issued_by']}: {cmd['reason']}",
                )
            )  # fmt: skip
        return out

    # -- carry-over (a changed config keeps the money; the core pickles the rest) ---------

    def checkpoint(self) -> dict[str, Any]:
        """What risk's own inputs built: the books, the reserved orders, the latest fill ids
        (a re-published fill is known by its id) and the clock."""
        return {
            "books": {b: book.to_state() for b, book in sorted(self.books.books.items())},
            "exposure": self.exposure.to_state(),
            "fills_seen": list(self.fills_seen)[-FILLS_KEPT:],
            "clock": self.clock,
        }

    def restore_checkpoint(self, st: Mapping[str, Any]) -> None:
        """Take back what ``checkpoint`` saved (a config change keeps risk's books and
        reservations: ``agents.risk.node.RiskNode.carry_from``)."""
        for bot_id, book in st["books"].items():
            if bot_id in self.books.books:
                self.books.books[bot_id] = BotBook.from_state(book)
        self.exposure = ExposureBook.from_state(st["exposure"])
        self.fills_seen.update(dict.fromkeys(st["fills_seen"]))
        if st.get("clock") is not None:
            self._tick(int(st["clock"]))
