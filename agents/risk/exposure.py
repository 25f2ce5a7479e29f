"""Reserved exposure, pure: every order risk approved that is not yet terminal, per bot.

Pre-trade risk must hold however far behind the fills and order events are: an
order counts against every limit from the moment risk approves it until the
venue says it is over (cancel, reject, expiry) or its fills have arrived. The
worst case of a (bot, symbol) is the filled position plus every open buy on the
long side, minus every open sell on the short side.

Order events and fills may arrive in any order and more than once. A terminal
event that reports more filled than the fills risk has seen keeps the
difference reserved (the fill is on its way); an order with no venue answer
after ``ack_timeout_ms`` of event time stays reserved and is reported
``overdue`` (it may be live at the venue: reconciliation's business).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
TERMINAL = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED"})


def _d(x: Any) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


RELEASED_KEPT = 5000  # closed order ids kept to tell a stale "open" row from a live order


@dataclass
class Working:
    """One approved order as risk sees it."""

    client_order_id: str
    bot_id: str
    venue: str
    symbol: str
    side: str  # BUY / SELL
    quantity: Decimal
    price: Decimal | None  # limit price; None for market orders
    ts: int  # event time of the approval
    filled: Decimal = ZERO  # from the fills risk has applied
    acked: bool = False  # the venue answered (any order event)
    final_filled: Decimal | None = None  # the venue's filled quantity when it closed the order

    @property
    def open_qty(self) -> Decimal:
        """What may still trade: the rest of a live order, or fills a closed order still owes."""
        target = self.quantity if self.final_filled is None else self.final_filled
        return max(target - self.filled, ZERO)

    @property
    def signed_open(self) -> Decimal:
        return self.open_qty if self.side == "BUY" else -self.open_qty

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "bot_id": self.bot_id,
            "venue": self.venue,
            "symbol": self.symbol,
            "side": self.side,
            "quantity": str(self.quantity),
            "price": None if self.price is None else str(self.price),
            "ts": self.ts,
            "filled": str(self.filled),
            "acked": self.acked,
            "final_filled": None if self.final_filled is None else str(self.final_filled),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Working:
        return cls(
            d["client_order_id"],
            d["bot_id"],
            d["venue"],
            d["symbol"],
            d["side"],
            _d(d["quantity"]),
            None if d["price"] is None else _d(d["price"]),
            int(d["ts"]),
            _d(d["filled"]),
            bool(d["acked"]),
            None if d["final_filled"] is None else _d(d["final_filled"]),
        )


@dataclass(frozen=True)
class Reserved:
    """A (bot, symbol)'s open order quantities, base units."""

    buys: Decimal = ZERO
    sells: Decimal = ZERO


class ExposureBook:
    """Open approved orders, released by the venue's answers and the fills."""

    def __init__(self) -> None:
        self.orders: dict[str, Working] = {}
        self._early: dict[str, Decimal] = {}  # fills seen before their order was (restart)
        # the latest orders released (closed): a restore must not reserve them again
        self.released: dict[str, None] = {}

    # -- inputs --------------------------------------------------------------------------------

    def on_submit(self, cmd: Mapping[str, Any]) -> None:
        """An approved ``SUBMIT`` command (risk's own, or a flatten order)."""
        cid = cmd["client_order_id"]
        if cid in self.orders:
            return  # re-delivered approval
        w = Working(
            cid,
            cmd["bot_id"],
            cmd["venue"],
            cmd["symbol"],
            cmd["side"],
            _d(cmd["quantity"]),
            None if cmd.get("limit_price") is None else _d(cmd["limit_price"]),
            int(cmd["ts_event"]),
        )
        w.filled = self._early.pop(cid, ZERO)
        self.orders[cid] = w
        self._drop_if_done(w)

    def on_order_event(self, ev: Mapping[str, Any]) -> None:
        w = self.orders.get(ev["client_order_id"])
        if w is None:
            return  # not one risk approved (or already released): nothing is reserved for it
        w.acked = True
        if ev["status"] in TERMINAL:
            w.final_filled = _d(ev["filled_quantity"])
            self._drop_if_done(w)

    def on_fill(self, fill: Mapping[str, Any]) -> None:
        """Call once per fill (the caller de-duplicates by event id)."""
        cid, qty = fill["client_order_id"], _d(fill["quantity"])
        w = self.orders.get(cid)
        if w is None:
            self._early[cid] = self._early.get(cid, ZERO) + qty
            return
        w.filled += qty
        w.acked = True
        self._drop_if_done(w)

    def forget_early(self, cids: Iterable[str]) -> None:
        for c in cids:
            self._early.pop(c, None)

    def _drop_if_done(self, w: Working) -> None:
        if w.open_qty == 0:  # closed and every fill in, or filled in full
            del self.orders[w.client_order_id]
            self.released[w.client_order_id] = None
            if len(self.released) > RELEASED_KEPT:
                del self.released[next(iter(self.released))]

    # -- views ---------------------------------------------------------------------------------

    def reserved(self, bot_id: str, venue: str, symbol: str) -> Reserved:
        buys = sells = ZERO
        for w in self.orders.values():
            if w.bot_id == bot_id and w.venue == venue and w.symbol == symbol:
                if w.side == "BUY":
                    buys += w.open_qty
                else:
                    sells += w.open_qty
        return Reserved(buys, sells)

    def open_buy_cash(self, bot_id: str, marks: Mapping[str, Decimal]) -> Decimal:
        """Quote currency the bot's open buys may still spend (limit price, else the mark)."""
        total = ZERO
        for w in self.orders.values():
            if w.bot_id == bot_id and w.side == "BUY":
                px = w.price if w.price is not None else marks.get(f"{w.venue}:{w.symbol}")
                total += w.open_qty * (px or ZERO)
        return total

    def symbols(self, bot_id: str) -> set[str]:
        return {f"{w.venue}:{w.symbol}" for w in self.orders.values() if w.bot_id == bot_id}

    def overdue(self, now_ts: int, timeout_ms: int) -> list[Working]:
        """Orders the venue has not answered within ``timeout_ms`` of event time (the paper
        venue answers in the cascade that approved them; a live venue's answer comes back
        while its live feed keeps event time with the wall clock)."""
        return sorted(
            (w for w in self.orders.values() if not w.acked and now_ts - w.ts > timeout_ms),
            key=lambda w: (w.ts, w.client_order_id),
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "orders": [w.as_dict() for _c, w in sorted(self.orders.items())],
            "early": {c: str(q) for c, q in sorted(self._early.items())},
            "released": list(self.released),
        }

    @classmethod
    def from_state(cls, st: Mapping[str, Any]) -> ExposureBook:
        book = cls()
        for d in st.get("orders", ()):
            w = Working.from_dict(d)
            book.orders[w.client_order_id] = w
        book._early = {c: _d(q) for c, q in st.get("early", {}).items()}
        book.released = dict.fromkeys(st.get("released", ()))
        return book
