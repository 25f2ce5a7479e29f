"""Pure core of the paper venue: commands and bars in event time, venue events out.

No I/O, no clock, no Faust: the same commands, bars and seed give byte-identical
events, so a paper run replays exactly and reconciles like a real venue.

Fill model (deliberately conservative):

* Latency: a command reaches the venue ``latency_ms`` after its ``ts_event``;
  ACCEPTED/CANCELED/REJECTED carry that arrival time -- or the venue's own clock
  (its latest bar), if that is later: a command that reaches a venue whose market
  has moved on (a stream whose bars run ahead of its orders) acts in the venue's
  present, so its events never precede fills the venue has already made.
* MARKET: fills on the first bar that closes at/after arrival, at that bar's
  closing quote (ask to buy, bid to sell) plus slippage that grows with
  participation: ``slippage_bps_per_share × fill_qty / bar_volume`` bps. Taker.
  With ``market_fill="next_open"`` (a bar backtester's idealisation, e.g. backtesting.py's
  default, for side-by-side checks): MARKET fills whole on the first bar that *opens*
  at/after arrival, at that bar's open, no spread, no slippage, no volume cap.
* LIMIT / POST_ONLY: only bars that *open* at/after arrival count (a whole bar's
  range is only known to be after the order then). The market must trade
  *through* the price (buy: low < limit, sell: high > limit); touching is not
  enough. Fills at the limit price, maker (IOC/FOK take liquidity: taker fee).
* Size: per bar and symbol, all orders together get at most
  ``volume_share × bar volume`` (time priority). A passive order fills a seeded
  random fraction of what is left of that cap (queue position is unknown).
* IOC fills what it can on its first eligible bar and cancels the rest; FOK
  fills completely there or is canceled; DAY expires at the next 00:00 UTC
  after arrival; GTC rests.

Exactness: quantities are cut to 1e-8 (round down), prices to 1e-8 (slippage
rounded against the trader), fees to 1e-12 (half-even); ``price × qty`` of two
1e-8 numbers is exact at 1e-16, so balances move by exactly ``price × qty ± fee``
inside Avro's decimal(38, 18).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from agents.quotes.core import BIAS as SYNTHETIC_BIAS
from streams.config import FeeProfile
from streams.decimals import tidy
from streams.envelope import envelope
from streams.ids import event_id

Event = dict[str, Any]

PRICE_Q = Decimal("1e-8")
QTY_Q = Decimal("1e-8")
FEE_Q = Decimal("1e-12")
BPS = Decimal(10_000)
DAY_MS = 86_400_000
ANY_BOT = "*"
ZERO = Decimal(0)
# closed orders remembered (a duplicate id or a late cancel is told what became of them);
# older ones are forgotten, so the venue's state stays the same size however long it runs
CLOSED_KEPT = 2000
CLOSE_QUOTE, NEXT_OPEN = "close_quote", "next_open"  # how a MARKET order fills


@dataclass
class Order:
    """One order as the venue holds it."""

    seq: int
    bot_id: str
    symbol: str
    cid: str
    venue_order_id: str
    side: str
    order_type: str
    tif: str
    quantity: Decimal
    limit_price: Decimal | None
    active_at: int
    correlation_id: str | None
    filled: Decimal = ZERO
    status: str = "ACCEPTED"
    fills: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in ("ACCEPTED", "PARTIALLY_FILLED")

    @property
    def day_end(self) -> int:
        """The UTC day boundary after arrival (DAY orders expire there)."""
        return (self.active_at // DAY_MS + 1) * DAY_MS


@dataclass
class _Book:
    """Last quote of a symbol, as decimals, with its bias label."""

    bid: Decimal
    ask: Decimal
    bias: str | None


@dataclass
class _Position:
    quantity: Decimal = ZERO
    avg_price: Decimal | None = None


@dataclass
class _BarCtx:
    """What one bar offers to the orders of its symbol."""

    bar: Mapping[str, Any]
    book: _Book
    low: Decimal
    high: Decimal
    volume: Decimal
    budget: Decimal
    events: list[Event] = field(default_factory=list)


_ORDER_DECIMALS = ("quantity", "limit_price", "filled")


def _order_state(o: Order) -> dict[str, Any]:
    return {
        k: (None if v is None else str(v)) if k in _ORDER_DECIMALS else v
        for k, v in vars(o).items()
    }


def _order_from(state: Mapping[str, Any]) -> Order:
    return Order(**{
        k: (None if v is None else Decimal(v)) if k in _ORDER_DECIMALS else v
        for k, v in state.items()
    })  # fmt: skip


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from(state: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BASE/QUOTE`` → (base, quote); a venue cannot book a symbol without both."""
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote:
        raise ValueError(f"symbol {symbol!r} is not BASE/QUOTE")
    return base, quote.split(":")[0]


def _d(x: Any) -> Decimal:
    """A float from market data as the decimal it prints as (no binary noise)."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


class PaperVenue:
    """A simulated venue account: ``on_command``/``on_bar`` in, venue events out."""

    def __init__(
        self,
        venue: str,
        account: str,
        fee_profile: FeeProfile,
        seed: int,
        latency_ms: int = 250,
        volume_share: Decimal = Decimal("0.1"),
        slippage_bps_per_share: Decimal = Decimal("100"),
        *,
        balances: Mapping[str, Decimal] | None = None,
        synthetic_half_spread_bps: Decimal = Decimal("1"),
        market_fill: str = CLOSE_QUOTE,
        quotes: Mapping[str, str] | None = None,
    ) -> None:
        """``slippage_bps_per_share``: bps paid per unit of participation (fill/bar volume),
        so the default costs 10 bps at the 10% volume cap."""
        if latency_ms < 0 or not ZERO < volume_share <= 1:
            raise ValueError("latency_ms must be >= 0 and volume_share in (0, 1]")
        if market_fill not in (CLOSE_QUOTE, NEXT_OPEN):
            raise ValueError(f"market_fill must be {CLOSE_QUOTE} or {NEXT_OPEN}")
        self.market_fill = market_fill
        # a listed share has no BASE/QUOTE symbol: its quote currency, by symbol (SPY -> USD)
        self.quotes = dict(quotes or {})
        self.venue, self.account = venue, account
        self.fees = fee_profile
        self.latency_ms = latency_ms
        self.volume_share = Decimal(volume_share)
        self.slippage = Decimal(slippage_bps_per_share)
        self.half_spread_bps = Decimal(synthetic_half_spread_bps)
        self.source = f"venue.paper.{venue}"
        self.rng = random.Random(seed)
        self.balances: dict[str, Decimal] = {a: Decimal(v) for a, v in (balances or {}).items()}
        self.positions: dict[str, _Position] = {}
        self.orders: dict[str, Order] = {}
        self._working: dict[str, Order] = {}  # the open subset of ``orders``
        self.books: dict[str, _Book] = {}
        self._unreported: list[Event] = []
        self._now = 0
        self._order_count = 0  # orders ever taken (their sequence numbers)
        self._closed: deque[str] = deque()  # ids of closed orders still in ``orders``

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A venue pickled before closed orders were forgotten: remember its closed ones."""
        self.__dict__.update(state)
        self.__dict__.setdefault("market_fill", CLOSE_QUOTE)  # pickled before they existed
        self.__dict__.setdefault("quotes", {})
        if "_closed" not in state:
            self._closed = deque(c for c, o in self.orders.items() if c not in self._working)
            self._forget_closed()

    def _retire(self, order: Order) -> None:
        """The order closed: off the working set; the oldest closed orders are forgotten."""
        self._working.pop(order.cid, None)
        self._closed.append(order.cid)
        self._forget_closed()

    def _forget_closed(self) -> None:
        while len(self._closed) > CLOSED_KEPT:
            self.orders.pop(self._closed.popleft(), None)

    # -- commands -----------------------------------------------------------------------------

    def on_command(self, cmd: Mapping[str, Any]) -> list[Event]:
        """Apply an ``OrderCommand`` as it arrives (``ts_event + latency_ms``)."""
        arrival = max(int(cmd["ts_event"]) + self.latency_ms, self._now)
        self._now = arrival
        if cmd.get("venue") != self.venue or cmd.get("account") != self.account:
            return [self._reject(cmd, arrival, f"not this venue/account ({self.venue})")]
        kind = cmd.get("command")
        if kind == "SUBMIT":
            return [self._submit(cmd, arrival)]
        if kind == "CANCEL":
            return [self._cancel(cmd, arrival)]
        if kind == "CANCEL_ALL":
            bot = cmd.get("bot_id") or ANY_BOT
            return self.cancel_all(
                cmd.get("symbol"), ts=arrival, bot_id=bot, reason=cmd.get("reason") or "cancel-all"
            )
        return [self._reject(cmd, arrival, f"unknown command {kind!r}")]

    def _submit(self, cmd: Mapping[str, Any], arrival: int) -> Event:
        reason = self._refusal(cmd)
        if reason:
            return self._reject(cmd, arrival, reason)
        cid = cmd["client_order_id"]
        order = Order(
            seq=self._order_count,
            bot_id=cmd["bot_id"],
            symbol=cmd["symbol"],
            cid=cid,
            venue_order_id=event_id("paper_order", self.venue, self.account, cid),
            side=cmd["side"],
            order_type=cmd["order_type"],
            tif=cmd.get("time_in_force") or "GTC",
            quantity=tidy(cmd["quantity"]),
            limit_price=None if cmd["order_type"] == "MARKET" else tidy(cmd["limit_price"]),
            active_at=arrival,
            correlation_id=cmd.get("correlation_id") or cmd.get("event_id"),
        )
        self.orders[cid] = order
        self._working[cid] = order
        self._order_count += 1
        return self._order_event(order, "ACCEPTED", arrival)

    def _refusal(self, cmd: Mapping[str, Any]) -> str | None:
        """Why a venue would refuse this SUBMIT, or None."""
        cid, symbol = cmd.get("client_order_id"), cmd.get("symbol")
        if not cid or not symbol:
            return "a SUBMIT needs a symbol and a client_order_id"
        if cid in self.orders:
            return f"duplicate client order id {cid}"
        try:
            self._split(symbol)
        except ValueError as exc:
            return str(exc)
        if cmd.get("side") not in ("BUY", "SELL"):
            return "missing side"
        kind, qty, price = cmd.get("order_type"), cmd.get("quantity"), cmd.get("limit_price")
        if kind not in ("MARKET", "LIMIT", "POST_ONLY"):
            return "missing order type"
        if qty is None or Decimal(qty) <= 0:
            return "non-positive quantity"
        if Decimal(qty) != Decimal(qty).quantize(QTY_Q, ROUND_DOWN):
            return f"quantity finer than the lot step {QTY_Q}"
        if kind == "MARKET":
            return None
        if price is None:
            return f"missing limit price for a {kind} order"
        if Decimal(price) <= 0:
            return "non-positive limit price"
        if Decimal(price) != Decimal(price).quantize(PRICE_Q, ROUND_DOWN):
            return f"limit price finer than the tick {PRICE_Q}"
        if kind == "POST_ONLY":
            return self._post_only_refusal(symbol, cmd["side"], Decimal(price))
        return None

    def _split(self, symbol: str) -> tuple[str, str]:
        """(base, quote) of a pair, or (the share, its listing's currency)."""
        if "/" not in symbol and symbol in self.quotes:
            return symbol, self.quotes[symbol]
        return split_symbol(symbol)

    def _post_only_refusal(self, symbol: str, side: str, price: Decimal) -> str | None:
        """POST_ONLY must rest: refused if it would take, or if there is no quote to tell."""
        book = self.books.get(symbol)
        if book is None:
            return "post-only with no quote yet to check against"
        if side == "BUY" and price >= book.ask:
            return f"post-only buy at {price} would cross the ask {book.ask}"
        if side == "SELL" and price <= book.bid:
            return f"post-only sell at {price} would cross the bid {book.bid}"
        return None

    def _cancel(self, cmd: Mapping[str, Any], arrival: int) -> Event:
        order = self.orders.get(cmd.get("client_order_id") or "")
        if order is None:
            return self._reject(
                cmd, arrival, f"unknown client order id {cmd.get('client_order_id')}"
            )
        if not order.is_open:
            return self._reject(cmd, arrival, f"order already {order.status}")
        return self._close(order, "CANCELED", arrival, cmd.get("reason") or "canceled")

    def cancel_all(
        self,
        symbol: str | None = None,
        *,
        ts: int | None = None,
        bot_id: str = ANY_BOT,
        reason: str = "kill switch",
    ) -> list[Event]:
        """Cancel every open order (of ``symbol``; of ``bot_id`` unless ``*``) at once.

        Called directly (the kill switch) it takes effect at the last event time seen."""
        at = self._now if ts is None else ts
        return [
            self._close(o, "CANCELED", at, reason)
            for o in self._open()
            if (symbol is None or o.symbol == symbol) and bot_id in (ANY_BOT, o.bot_id)
        ]

    # -- market data --------------------------------------------------------------------------

    def on_bar(self, bar: Mapping[str, Any], quote: Mapping[str, Any] | None = None) -> list[Event]:
        """Expire, then fill the symbol's open orders against one clean bar (event time)."""
        self._now = max(self._now, int(bar["ts_event"]))
        book = self._book(bar, quote)
        self.books[bar["symbol"]] = book
        events = self._expire(bar)
        volume = _d(bar["volume"])
        ctx = _BarCtx(
            bar,
            book,
            _d(bar["low"]),
            _d(bar["high"]),
            volume,
            (volume * self.volume_share).quantize(QTY_Q, ROUND_DOWN),
            events,
        )
        for order in self._open(bar["symbol"]):
            self._trade(order, ctx)
        return events

    def _book(self, bar: Mapping[str, Any], quote: Mapping[str, Any] | None) -> _Book:
        """The recorded quote, or close ± a small half-spread labelled optimistic."""
        if quote is not None:
            return _Book(_d(quote["bid"]), _d(quote["ask"]), quote.get("fill_model_bias"))
        close = _d(bar["close"])
        half = close * self.half_spread_bps / BPS
        return _Book(
            (close - half).quantize(PRICE_Q, ROUND_FLOOR),
            (close + half).quantize(PRICE_Q, ROUND_CEILING),
            SYNTHETIC_BIAS,
        )

    def _expire(self, bar: Mapping[str, Any]) -> list[Event]:
        """DAY orders whose UTC day ended before this bar opened."""
        return [
            self._close(o, "EXPIRED", o.day_end, "DAY order at the UTC day boundary")
            for o in self._open(bar["symbol"])
            if o.tif == "DAY" and o.day_end <= int(bar["open_time"])
        ]

    def _trade(self, order: Order, ctx: _BarCtx) -> None:
        """Fill (part of) one order on this bar, then apply IOC/FOK."""
        if order.order_type == "MARKET" and self.market_fill == NEXT_OPEN:
            if order.active_at > int(ctx.bar["open_time"]):
                return
            qty, price = order.remaining, _d(ctx.bar["open"]).quantize(PRICE_Q)
        elif order.order_type == "MARKET":
            if order.active_at > int(ctx.bar["ts_event"]):
                return
            qty = min(order.remaining, ctx.budget)
            price = None if qty <= 0 else self._market_price(order.side, qty, ctx)
        else:
            if order.active_at > int(ctx.bar["open_time"]):
                return
            price, qty = self._limit_fill(order, ctx)
        if order.tif == "FOK" and qty < order.remaining:
            ctx.events.append(
                self._close(order, "CANCELED", ctx.bar["ts_event"], "FOK not fillable")
            )
            return
        if price is not None and qty > 0:
            ctx.budget -= qty
            ctx.events += self._fill(order, price, qty, ctx)
        if order.tif == "IOC" and order.is_open:
            ctx.events.append(self._close(order, "CANCELED", ctx.bar["ts_event"], "IOC remainder"))

    def _limit_fill(self, order: Order, ctx: _BarCtx) -> tuple[Decimal | None, Decimal]:
        """Trade-through at the limit, a seeded share of the bar's remaining volume cap."""
        limit = order.limit_price
        assert limit is not None
        through = ctx.low < limit if order.side == "BUY" else ctx.high > limit
        if not through or ctx.budget <= 0:
            return None, ZERO
        share = Decimal(self.rng.randrange(1, 10_001)) / BPS  # (0, 1], exact
        if order.tif == "FOK":
            share = Decimal(1)  # all-or-none: the question is only whether the cap allows it
        qty = min(order.remaining, (ctx.budget * share).quantize(QTY_Q, ROUND_DOWN))
        return limit, qty

    def _market_price(self, side: str, qty: Decimal, ctx: _BarCtx) -> Decimal:
        """The far side of the quote, moved against the trader by participation slippage."""
        bps = self.slippage * qty / ctx.volume if ctx.volume > 0 else ZERO
        if side == "BUY":
            return (ctx.book.ask * (1 + bps / BPS)).quantize(PRICE_Q, ROUND_CEILING)
        return (ctx.book.bid * (1 - bps / BPS)).quantize(PRICE_Q, ROUND_FLOOR)

    # -- bookkeeping --------------------------------------------------------------------------

    def _fill(self, order: Order, price: Decimal, qty: Decimal, ctx: _BarCtx) -> list[Event]:
        """One execution: balances, position, a Fill and the order's new status."""
        taker = order.order_type == "MARKET" or order.tif in ("IOC", "FOK")
        bps = self.fees.taker_bps if taker else self.fees.maker_bps
        notional = price * qty
        fee = (notional * Decimal(bps) / BPS).quantize(FEE_Q, ROUND_HALF_EVEN)
        base, quote = self._split(order.symbol)
        sign = 1 if order.side == "BUY" else -1
        self.balances[base] = self.balances.get(base, ZERO) + sign * qty
        self.balances[quote] = self.balances.get(quote, ZERO) - sign * notional - fee
        self._move_position(order.symbol, sign * qty, price)
        order.filled += qty
        order.fills += 1
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        if order.status == "FILLED":
            self._retire(order)
        ts = int(ctx.bar["ts_event"])
        trade_id = event_id("paper_trade", self.venue, self.account, order.cid, order.fills)
        fill = {
            **self._header(
                event_id("fill", self.venue, self.account, order.symbol, trade_id), ts, order
            ),
            "symbol": order.symbol,
            "client_order_id": order.cid,
            "venue_order_id": order.venue_order_id,
            "trade_id": trade_id,
            "side": order.side,
            "price": price,
            "quantity": qty,
            "fee": fee,
            "fee_currency": quote,
            "liquidity": "TAKER" if taker else "MAKER",
            "fill_model_bias": ctx.book.bias,
        }
        self._unreported.append(fill)
        return [self._order_event(order, order.status, ts), fill]

    def _move_position(self, symbol: str, signed_qty: Decimal, price: Decimal) -> None:
        """Signed position and average entry: adding averages, reducing keeps, flipping resets."""
        pos = self.positions.setdefault(symbol, _Position())
        new = pos.quantity + signed_qty
        if pos.quantity == 0 or (pos.quantity > 0) == (signed_qty > 0):
            old = pos.avg_price or ZERO
            avg = (old * abs(pos.quantity) + price * abs(signed_qty)) / abs(new)
            pos.avg_price = avg.quantize(PRICE_Q, ROUND_HALF_EVEN)
        elif new == 0:
            pos.avg_price = None
        elif (new > 0) != (pos.quantity > 0):
            pos.avg_price = price
        pos.quantity = new

    def _close(self, order: Order, status: str, ts: int, reason: str) -> Event:
        order.status = status
        self._retire(order)
        return self._order_event(order, status, ts, reason)

    def _open(self, symbol: str | None = None) -> list[Order]:
        """Open orders in time priority."""
        # only the working orders: the cost of a bar must not grow with the day's order count
        orders = [o for o in self._working.values() if symbol is None or o.symbol == symbol]
        return sorted(orders, key=lambda o: (o.active_at, o.seq))

    # -- events -------------------------------------------------------------------------------

    def _header(
        self, eid: str, ts: int, order: Order | None, cmd: Mapping[str, Any] | None = None
    ) -> Event:
        """The envelope every event shares; ids and owner come from the order or command."""
        if order is not None:
            corr, bot = order.correlation_id, order.bot_id
        else:
            corr, bot = (cmd or {}).get("correlation_id"), (cmd or {}).get("bot_id") or ANY_BOT
        return {
            **envelope(eid, int(ts), self.source, correlation_id=corr),  # event time only
            "bot_id": bot,
            "venue": self.venue,
            "account": self.account,
        }

    def _order_event(self, order: Order, status: str, ts: int, reason: str | None = None) -> Event:
        eid = event_id("order_event", self.venue, self.account, order.cid, status, order.filled, ts)
        return {
            **self._header(eid, ts, order),
            "symbol": order.symbol,
            "client_order_id": order.cid,
            "venue_order_id": order.venue_order_id,
            "status": status,
            "side": order.side,
            "order_type": order.order_type,
            "quantity": order.quantity,
            "limit_price": order.limit_price,
            "filled_quantity": order.filled,
            "reason": reason,
        }

    def _reject(self, cmd: Mapping[str, Any], ts: int, reason: str) -> Event:
        cid = cmd.get("client_order_id") or ""
        eid = event_id(
            "order_event", self.venue, self.account, cid, "REJECTED", cmd.get("event_id")
        )
        kind = cmd.get("order_type")
        return {
            **self._header(eid, ts, None, cmd),
            "symbol": cmd.get("symbol") or "",
            "client_order_id": cid,
            "venue_order_id": None,
            "status": "REJECTED",
            "side": cmd.get("side"),
            "order_type": kind,
            "quantity": None if cmd.get("quantity") is None else Decimal(cmd["quantity"]),
            "limit_price": None if cmd.get("limit_price") is None else Decimal(cmd["limit_price"]),
            "filled_quantity": ZERO,
            "reason": reason,
        }

    def lost(self, stored_open: Iterable[Mapping[str, Any]], reason: str) -> list[Event]:
        """Orders the desk's store holds open that this venue has no working order for: their
        command (or their last events) went with a broker that forgot them. Each one is
        closed as REJECTED with the reason, so nothing stays pending forever; an order the
        venue still works is left alone."""
        out: list[Event] = []
        for row in stored_open:
            cid = row["client_order_id"]
            if cid in self._working or row.get("venue") != self.venue:
                continue
            if row.get("account") != self.account:
                continue
            cmd = dict(row) | {"event_id": f"lost:{cid}"}
            out.append(self._reject(cmd, self._now, reason))
        return out

    # -- checkpoint -------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """What a restarted venue needs, as JSON-able data: balances, positions, the working
        orders, the fills not yet reported, the last quotes, the fill model's RNG and clock.

        Closed orders are not kept (the state stays small however long the venue runs): after
        a restore, a cancel for an order closed before it is refused as unknown instead of
        "already CANCELED"."""
        return {
            "now": self._now,
            "order_count": self._order_count,
            "rng": _rng_state(self.rng),
            "balances": {a: str(v) for a, v in sorted(self.balances.items())},
            "positions": {
                s: [str(p.quantity), None if p.avg_price is None else str(p.avg_price)]
                for s, p in sorted(self.positions.items())
            },
            "books": {s: [str(b.bid), str(b.ask), b.bias] for s, b in sorted(self.books.items())},
            "working": [_order_state(o) for o in self._open()],
            "unreported": [
                {k: str(v) if isinstance(v, Decimal) else v for k, v in f.items()}
                for f in self._unreported
            ],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Become the venue ``to_state`` described (the config's settings stay as built)."""
        self._now = int(state["now"])
        self._order_count = int(state["order_count"])
        self.rng.setstate(_rng_from(state["rng"]))
        self.balances = {a: Decimal(v) for a, v in state["balances"].items()}
        self.positions = {
            s: _Position(Decimal(q), None if a is None else Decimal(a))
            for s, (q, a) in state["positions"].items()
        }
        self.books = {
            s: _Book(Decimal(b), Decimal(a), bias) for s, (b, a, bias) in state["books"].items()
        }
        orders = [_order_from(o) for o in state["working"]]
        self.orders = {o.cid: o for o in orders}
        self._working = dict(self.orders)
        self._closed = deque()
        self._unreported = [
            {k: Decimal(v) if k in ("price", "quantity", "fee") else v for k, v in f.items()}
            for f in state["unreported"]
        ]

    # -- the venue's view ---------------------------------------------------------------------

    def report(self, ts: int, *, correlation_id: str | None = None) -> Event:
        """A ``VenueReport`` as a real connector would give: fills since the last report,
        balances, positions (net of this venue's fills) and open orders."""
        fills = [
            {
                k: f[k]
                for k in (
                    "trade_id",
                    "client_order_id",
                    "symbol",
                    "side",
                    "price",
                    "quantity",
                    "fee",
                    "fee_currency",
                )
            }
            | {"ts": f["ts_event"]}
            for f in self._unreported
        ]
        self._unreported = []
        return {
            **envelope(
                event_id("venue_report", self.venue, self.account, ts),
                int(ts),
                self.source,
                correlation_id=correlation_id,
            ),
            "venue": self.venue,
            "account": self.account,
            "fills": fills,
            "balances": self._balance_records(),
            "positions": [
                {"symbol": s, "quantity": p.quantity, "avg_price": p.avg_price}
                for s, p in sorted(self.positions.items())
            ],
            "open_orders": [
                {
                    "client_order_id": o.cid,
                    "venue_order_id": o.venue_order_id,
                    "symbol": o.symbol,
                    "side": o.side,
                    "quantity": o.quantity,
                    "remaining": o.remaining,
                    "limit_price": o.limit_price,
                }
                for o in self._open()
            ],
        }

    def _balance_records(self) -> list[Event]:
        """Totals, and free = total less what open limit orders hold."""
        held: dict[str, Decimal] = {}
        for o in self._open():
            if o.limit_price is None:
                continue
            base, quote = self._split(o.symbol)
            asset, amount = (
                (quote, o.remaining * o.limit_price) if o.side == "BUY" else (base, o.remaining)
            )
            held[asset] = held.get(asset, ZERO) + amount
        return [
            {"asset": a, "total": t, "free": t - held.get(a, ZERO)}
            for a, t in sorted(self.balances.items())
        ]
