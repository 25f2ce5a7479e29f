"""Pure core of pre-trade risk: deterministic checks, fail closed, reasons on every decision.

Every check runs and is recorded with its measured value and its limit, in
order, so a denial explains itself and an approval shows what it was judged
on. Anything the engine does not know (trading state, a mark, the portfolio)
denies: nothing is approved by default. Cancels are always approved: they
only take risk away, and the kill switch relies on them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streams.config import Limits
from streams.envelope import caused_by
from streams.ids import event_id

SOURCE = "agent.risk"
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Leg:
    """One symbol of the bot: filled position, open (approved, not terminal) orders, mark."""

    key: str  # venue:symbol
    position: Decimal  # filled, base units, signed
    buys: Decimal = Decimal(0)  # open buy quantity
    sells: Decimal = Decimal(0)  # open sell quantity
    mark: Decimal | None = None
    mark_ts: int | None = None

    @property
    def long_side(self) -> Decimal:
        """The position if every open buy fills and no sell does."""
        return self.position + self.buys

    @property
    def short_side(self) -> Decimal:
        """The position if every open sell fills and no buy does."""
        return self.position - self.sells

    def worst(self) -> Decimal:
        """Worst-case |position| in base units."""
        return max(abs(self.long_side), abs(self.short_side))


@dataclass(frozen=True)
class RiskContext:
    """What risk knows about the bot and its market when an intent arrives.

    The books (legs, cash, equity, PnL) are risk's own, built from the fills it has
    seen and the orders it approved, so they never lag its decisions; a mark older
    than the data-age limit counts as unknown for the leg it values."""

    account: str
    allowed_symbols: frozenset[str]  # venue:symbol
    limits: Limits
    trading_state: str | None  # ACTIVE / REDUCING / HALTED; None = unknown (deny)
    kill: bool = False
    mark: float | None = None  # last clean close of the symbol
    mark_ts: int | None = None
    data_critical: tuple[str, ...] = ()  # open critical data-quality checks of the stream
    legs: tuple[Leg, ...] | None = None  # every symbol the bot holds or has orders in; None=unknown
    cash: Decimal | None = None  # quote currency, after every fill seen
    open_buy_cash: Decimal = Decimal(0)  # what the open buys may still spend
    equity: Decimal | None = None
    peak_equity: Decimal | None = None
    daily_pnl: Decimal | None = None
    side: str = "long_short"  # the strategy's declared side: long_only / long_short
    taker_bps: Decimal = Decimal(0)  # fee on the cash a buy may spend
    durable: bool = True  # trading state can be made durable (else: fail closed)
    blocked: str | None = None  # another reason to refuse new exposure (e.g. inputs behind)

    def leg(self, key: str) -> Leg | None:
        return next((g for g in self.legs or () if g.key == key), None)


def _reducing(leg: Leg, signed: Decimal) -> bool:
    """An order cuts risk when, even if every open order of the symbol fills, it cannot take
    the position across zero: a sell while long beyond the open sells, a buy while short."""
    if signed < 0:
        return leg.position > 0 and leg.short_side + signed >= 0
    return leg.position < 0 and leg.long_side + signed <= 0


@dataclass
class _Check:
    name: str
    passed: bool
    value: str | None
    limit: str | None
    detail: str

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "value": self.value,
            "limit": self.limit,
            "detail": self.detail,
        }


def _s(x: object) -> str | None:
    return None if x is None else str(x)


@dataclass
class PreTradeRisk:
    """Decides intents; remembers only the recent approvals per bot (the order-rate check)."""

    _recent: dict[str, deque[int]] = field(default_factory=dict)

    def decide(
        self, intent: Mapping[str, Any], ctx: RiskContext
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The ``RiskDecision`` and, when approved, the ``OrderCommand`` to send."""
        checks = (
            [_Check("cancel", True, intent["action"], None, "cancels only take risk away")]
            if intent["action"] != "NEW"
            else self._checks(intent, ctx)
        )
        approved = all(c.passed for c in checks)
        state = ctx.trading_state or "HALTED"
        decision = {
            **caused_by(
                intent,
                event_id("decision", intent["event_id"]),
                SOURCE,
                correlation_id=intent.get("correlation_id") or intent["event_id"],
            ),
            "bot_id": intent["bot_id"],
            "venue": intent["venue"],
            "symbol": intent["symbol"],
            "intent_id": intent["event_id"],
            "decision": "APPROVE" if approved else "DENY",
            "trading_state": state,
            "reasons": [f"{c.name}: {c.detail}" for c in checks if not c.passed],
            "checks": [c.record() for c in checks],
        }
        if not approved:
            return decision, None
        if intent["action"] == "NEW":
            self._recent.setdefault(intent["bot_id"], deque()).append(intent["ts_event"])
        return decision, self._command(intent, ctx, decision["event_id"])

    # -- the checks, in order ------------------------------------------------------------------

    def _checks(self, it: Mapping[str, Any], ctx: RiskContext) -> list[_Check]:
        lim = ctx.limits
        qty: Decimal = it["quantity"] or Decimal(0)
        signed = qty if it["side"] == "BUY" else -qty
        stream = f"{it['venue']}:{it['symbol']}"
        leg = ctx.leg(stream) if ctx.legs is not None else None
        if ctx.legs is not None and leg is None:
            leg = Leg(stream, Decimal(0))
        reducing = leg is not None and qty > 0 and _reducing(leg, signed)
        out = [self._state(ctx, reducing), self._kill(ctx), self._durable(ctx, reducing)]
        out.append(
            _Check(
                "instrument_allowed",
                stream in ctx.allowed_symbols,
                stream,
                None,
                "in the bot's universe"
                if stream in ctx.allowed_symbols
                else f"{stream} is not one of the bot's symbols",
            )
        )
        out.append(_Check("quantity", qty > 0, _s(qty), "> 0", "size of the order"))
        out += self._market_data(it, ctx)
        mark = None if ctx.mark is None else Decimal(repr(ctx.mark))
        price = it["limit_price"] if it["order_type"] != "MARKET" else mark
        out.append(self._band(it, mark, lim))
        notional = None if price is None else qty * price
        out.append(self._order_cap(notional, lim, reducing))
        out.append(self._side(ctx, leg, signed))
        out += self._exposure(it, ctx, leg, signed, mark, reducing)
        out.append(self._buying_power(ctx, signed, notional, reducing))
        out.append(self._rate(it, lim))
        out += self._loss(ctx, reducing)
        if ctx.blocked is not None:
            why = ctx.blocked + (" (reducing order allowed)" if reducing else "")
            out.append(_Check("inputs_current", reducing, None, None, why))
        return out

    def _state(self, ctx: RiskContext, reducing: bool) -> _Check:
        st = ctx.trading_state
        if st == "ACTIVE":
            return _Check("trading_state", True, st, None, "active")
        if st == "REDUCING":
            ok = reducing
            why = "reducing order allowed" if ok else "REDUCING: only orders that cut the position"
            return _Check("trading_state", ok, st, None, why)
        if st == "HALTED":
            return _Check("trading_state", False, st, None, "HALTED: nothing trades")
        return _Check("trading_state", False, _s(st), None, "trading state unknown: fail closed")

    def _kill(self, ctx: RiskContext) -> _Check:
        if not ctx.kill:
            return _Check("kill_switch", True, "off", None, "off")
        return _Check("kill_switch", False, "on", None, "kill switch is on: nothing trades")

    def _durable(self, ctx: RiskContext, reducing: bool) -> _Check:
        if ctx.durable:
            return _Check("state_durable", True, "yes", None, "trading state is durable")
        why = "trading state cannot be made durable (PostgreSQL): fail closed"
        return _Check("state_durable", reducing, "no", None,
                      why + (", reducing order allowed" if reducing else ""))  # fmt: skip

    def _order_cap(self, notional: Decimal | None, lim: Limits, reducing: bool) -> _Check:
        check = self._max("max_order_notional", notional, lim.max_order_notional)
        if not check.passed and reducing and notional is not None and lim.reduce_past_order_cap:
            why = "reducing: allowed past the per-order cap (reduce_past_order_cap)"
            return _Check(check.name, True, check.value, check.limit, why)
        return check

    def _side(self, ctx: RiskContext, leg: Leg | None, signed: Decimal) -> _Check:
        if ctx.side != "long_only":
            return _Check("declared_side", True, ctx.side, None, "long/short strategy")
        if leg is None:
            return _Check("declared_side", False, None, "long_only", "position unknown")
        worst = leg.short_side + min(signed, Decimal(0))
        ok = worst >= 0
        return _Check("declared_side", ok, _s(worst), ">= 0",
                      "long-only: never short, even if every open sell fills" if ok else
                      f"long-only: would be {worst} if every open sell fills")  # fmt: skip

    def _market_data(self, it: Mapping[str, Any], ctx: RiskContext) -> list[_Check]:
        age_limit = ctx.limits.max_data_age_seconds
        if ctx.mark is None or ctx.mark_ts is None:
            fresh = _Check(
                "market_data_fresh", False, None, _s(age_limit), "no clean mark: fail closed"
            )
        else:
            # a mark newer than the intent (the stream moved on while it was in flight) is fresh
            age_s = max(Decimal(it["ts_event"] - ctx.mark_ts) / 1000, Decimal(0))
            ok = age_limit is None or age_s <= age_limit
            fresh = _Check(
                "market_data_fresh", ok, _s(age_s), _s(age_limit), f"last clean bar {age_s} s old"
            )
        crit = ctx.data_critical
        quality = _Check(
            "market_data_quality",
            not crit,
            ",".join(crit) or "none",
            "no critical",
            "open critical data-quality findings: fail closed" if crit else "no critical finding",
        )
        return [fresh, quality]

    def _band(self, it: Mapping[str, Any], mark: Decimal | None, lim: Limits) -> _Check:
        if it["order_type"] == "MARKET":
            return _Check("price_band", True, None, _s(lim.price_band_bps), "market order")
        px = it["limit_price"]
        if px is None or px <= 0 or mark is None or mark <= 0:
            return _Check("price_band", False, _s(px), _s(lim.price_band_bps), "no price or mark")
        bps = (abs(px - mark) / mark * 10_000).quantize(Decimal("0.01"))
        ok = lim.price_band_bps is None or bps <= lim.price_band_bps
        return _Check(
            "price_band",
            ok,
            _s(bps),
            _s(lim.price_band_bps),
            f"limit {px} is {bps} bps from mark {mark}",
        )

    def _max(self, name: str, value: Decimal | None, limit: Decimal | None) -> _Check:
        if value is None:
            return _Check(name, False, None, _s(limit), "cannot be measured: fail closed")
        ok = limit is None or value <= limit
        return _Check(name, ok, _s(value), _s(limit), "within limit" if ok else "over limit")

    def _exposure(
        self,
        it: Mapping[str, Any],
        ctx: RiskContext,
        leg: Leg | None,
        signed: Decimal,
        mark: Decimal | None,
        reducing: bool,
    ) -> list[_Check]:
        """Position, gross, net and leverage on the worst case after the order: every open
        order of the bot fills on its unfavourable side, this one included."""
        lim = ctx.limits
        if leg is None or ctx.equity is None or mark is None:
            return [_Check("portfolio_known", False, None, None, "portfolio or mark unknown")]
        age_limit = lim.max_data_age_seconds
        legs = []
        for g in ctx.legs or ():
            if g.key == leg.key:
                g = Leg(g.key, g.position, g.buys, g.sells, mark, ctx.mark_ts)
            legs.append(g)
        if leg.key not in {g.key for g in legs}:
            legs.append(Leg(leg.key, leg.position, leg.buys, leg.sells, mark, ctx.mark_ts))
        stale = [
            g.key
            for g in legs
            if g.worst() != 0
            and (
                g.mark is None
                or g.mark_ts is None
                or (age_limit is not None and it["ts_event"] - g.mark_ts > age_limit * 1000)
            )
        ]
        out = [
            _Check(
                "marks_fresh",
                not stale,
                ",".join(stale) or "all",
                _s(age_limit),
                f"no fresh mark for {', '.join(stale)}: cannot value the book"
                if stale
                else "every leg marked within the data-age limit",
            )
        ]
        after = [
            Leg(g.key, g.position, g.buys + max(signed, Decimal(0)),
                g.sells + max(-signed, Decimal(0)), g.mark, g.mark_ts)
            if g.key == leg.key else g
            for g in legs
        ]  # fmt: skip
        priced = [g for g in after if g.mark is not None]
        pos = next(g for g in after if g.key == leg.key).worst() * mark
        gross = sum((g.worst() * (g.mark or 0) for g in priced), Decimal(0))
        net_long = sum((g.long_side * (g.mark or 0) for g in priced), Decimal(0))
        net_short = sum((g.short_side * (g.mark or 0) for g in priced), Decimal(0))
        net = max(abs(net_long), abs(net_short))
        mine = next(g for g in after if g.key == leg.key)
        held = f"filled {leg.position}, open buys {mine.buys}, open sells {mine.sells}"
        position = self._max("max_position_notional", pos, lim.max_position_notional)
        position.detail += f" (worst case: {held})"
        out += [
            position,
            self._max("max_gross_exposure", gross, lim.max_gross_exposure),
            self._max("max_net_exposure", net, lim.max_net_exposure),
        ]
        if ctx.equity <= 0:
            out.append(_Check("max_leverage", False, None, _s(lim.max_leverage), "equity <= 0"))
            out.append(_Check("max_concentration", False, None, _s(lim.max_concentration),
                              "equity <= 0"))  # fmt: skip
        else:
            lev = (gross / ctx.equity).quantize(Decimal("0.0001"))
            out.append(self._max("max_leverage", lev, lim.max_leverage))
            conc = (pos / ctx.equity).quantize(Decimal("0.0001"))
            out.append(self._max("max_concentration", conc, lim.max_concentration))
        if reducing:  # cutting a position never raises the worst case: it only lowers it
            out = [_Check(c.name, True, c.value, c.limit, "reducing") for c in out]
        return out

    def _buying_power(
        self, ctx: RiskContext, signed: Decimal, notional: Decimal | None, reducing: bool
    ) -> _Check:
        """Cash after every open buy and this one (with the taker fee) fill, against what the
        bot may borrow (``max_borrow``; unset: no cash limit)."""
        borrow = ctx.limits.max_borrow
        if signed <= 0 or reducing:
            return _Check("buying_power", True, None, _s(borrow), "sells and reducing orders")
        if ctx.cash is None or notional is None:
            return _Check("buying_power", False, None, _s(borrow), "cash unknown: fail closed")
        left = ctx.cash - (ctx.open_buy_cash + notional) * (1 + ctx.taker_bps / 10_000)
        ok = borrow is None or left >= -borrow
        return _Check("buying_power", ok, _s(left.quantize(Decimal("0.01"))),
                      None if borrow is None else _s(-borrow),
                      "cash left if every open buy and this one fill")  # fmt: skip

    def _rate(self, it: Mapping[str, Any], lim: Limits) -> _Check:
        recent = self._recent.setdefault(it["bot_id"], deque())
        while recent and recent[0] <= it["ts_event"] - MINUTE_MS:
            recent.popleft()
        n = len(recent) + 1
        ok = lim.max_orders_per_minute is None or n <= lim.max_orders_per_minute
        return _Check(
            "max_orders_per_minute",
            ok,
            str(n),
            _s(lim.max_orders_per_minute),
            "orders in the last minute, this one included",
        )

    def _loss(self, ctx: RiskContext, reducing: bool) -> list[_Check]:
        """Daily loss and drawdown of risk's own books (fills seen, marked)."""
        lim = ctx.limits
        if ctx.daily_pnl is None or ctx.equity is None or ctx.peak_equity is None:
            return [_Check("pnl_known", False, None, None, "daily PnL or equity unknown")]
        loss = -ctx.daily_pnl if ctx.daily_pnl < 0 else Decimal(0)
        dd = (
            ((ctx.peak_equity - ctx.equity) / ctx.peak_equity).quantize(Decimal("0.000001"))
            if ctx.peak_equity > 0
            else Decimal(0)
        )
        out = [
            self._max("max_daily_loss", loss, lim.max_daily_loss),
            self._max("max_drawdown", dd, lim.max_drawdown),
        ]
        if reducing:
            out = [_Check(c.name, True, c.value, c.limit, "reducing") for c in out]
        return out

    def _command(self, it: Mapping[str, Any], ctx: RiskContext, decision_id: str) -> dict[str, Any]:
        kind = {"NEW": "SUBMIT", "CANCEL": "CANCEL", "CANCEL_ALL": "CANCEL_ALL"}[it["action"]]
        return {
            **caused_by(
                it,
                event_id("command", it["event_id"]),
                SOURCE,
                correlation_id=it.get("correlation_id") or it["event_id"],
            ),
            "bot_id": it["bot_id"],
            "venue": it["venue"],
            "account": ctx.account,
            "command": kind,
            "symbol": it["symbol"],
            "client_order_id": it["client_order_id"],
            "side": it["side"],
            "order_type": it["order_type"],
            "quantity": it["quantity"],
            "limit_price": it["limit_price"],
            "time_in_force": it["time_in_force"],
            "decision_id": decision_id,
            "reason": it["reason"],
        }
