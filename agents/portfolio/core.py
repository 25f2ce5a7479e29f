"""Pure core of the portfolio: fills and marks in, exact books out.

Each position keeps its signed quantity and its signed cost basis (what the
open quantity cost, fees apart). Closing part of a position releases a share
of the basis, rounded once to 18 places and removed from the basis by exactly
that amount, so these identities hold to the last decimal at every step::

    equity = cash + Σ quantity × mark
    equity = starting cash + realized PnL + unrealized PnL

Realized PnL is net of fees. The trading day is the UTC date of the event
time; the equity at the first event of a day is that day's start, so daily
PnL survives restarts as long as the state does (``to_state``/``from_state``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streams.config import DeskConfig
from streams.decimals import tidy
from streams.envelope import envelope
from streams.ids import event_id

Q18 = Decimal("1e-18")
ZERO = Decimal(0)
SOURCE = "agent.portfolio"


class PortfolioError(ValueError):
    """A fill the books cannot take (e.g. a fee in a currency other than the quote)."""


def trading_day(ts_ms: int) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).date().isoformat()


def _q(x: Decimal) -> Decimal:
    return x.quantize(Q18)


def _fit(x: Decimal) -> Decimal:
    """A figure as the snapshot carries it: exact, unless a product of a quantity and a
    price has more than 18 decimal places (the events' scale), then rounded to 18 (half
    even); the books themselves stay exact."""
    exp = x.as_tuple().exponent
    return _q(x) if isinstance(exp, int) and exp < -18 else x


@dataclass
class Position:
    venue: str
    symbol: str
    quantity: Decimal = ZERO
    basis: Decimal = ZERO  # signed cost of the open quantity
    realized: Decimal = ZERO
    mark: Decimal | None = None
    mark_ts: int = 0  # event time of the mark: a re-delivered older bar does not re-mark

    def apply(self, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Apply a trade; returns the PnL it realized (fees apart)."""
        realized = ZERO
        pos = self.quantity
        if pos != 0 and (signed_qty > 0) != (pos > 0):
            closing = signed_qty if abs(signed_qty) <= abs(pos) else -pos
            portion = _q(self.basis * abs(closing) / abs(pos))
            realized = -(closing * price) - portion
            self.basis -= portion
            self.quantity += closing
            signed_qty -= closing
        if signed_qty != 0:
            self.quantity += signed_qty
            self.basis += signed_qty * price
        if self.quantity == 0:
            self.basis = ZERO  # nothing open, nothing owed
        self.realized += realized
        return realized

    def market_value(self) -> Decimal:
        return self.quantity * self.mark if self.mark is not None else self.basis

    def unrealized(self) -> Decimal:
        return self.market_value() - self.basis


@dataclass
class BotBook:
    """One bot's cash, positions and running PnL statistics."""

    bot_id: str
    quote_currency: str
    starting_cash: Decimal
    cash: Decimal = ZERO
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    peak_equity: Decimal = ZERO
    day: str | None = None
    day_start_equity: Decimal = ZERO
    positions: dict[str, Position] = field(default_factory=dict)
    as_of: int = 0  # event time of the latest snapshot: snapshots never go back in time
    seq: int = 0  # snapshots produced: of two saved states of a book, the higher is newer

    def __post_init__(self) -> None:
        if self.cash == ZERO and self.peak_equity == ZERO:
            self.cash = self.starting_cash
            self.peak_equity = self.starting_cash
            self.day_start_equity = self.starting_cash

    def equity(self) -> Decimal:
        return self.cash + sum((p.market_value() for p in self.positions.values()), ZERO)

    def unrealized(self) -> Decimal:
        return sum((p.unrealized() for p in self.positions.values()), ZERO)

    def roll_day(self, ts_ms: int) -> None:
        """At the first event of a new UTC day, the current equity becomes the day's start."""
        day = trading_day(ts_ms)
        if day != self.day:
            self.day = day
            self.day_start_equity = self.equity()

    def after_change(self) -> None:
        self.peak_equity = max(self.peak_equity, self.equity())

    def to_state(self) -> dict[str, Any]:
        """Plain JSON-able state (decimals as strings) for a changelog-backed table."""
        money = ("starting_cash", "cash", "realized", "fees", "peak_equity", "day_start_equity")
        out: dict[str, Any] = {k: str(getattr(self, k)) for k in money}
        out |= {"bot_id": self.bot_id, "quote_currency": self.quote_currency, "day": self.day}
        out["as_of"] = self.as_of
        out["seq"] = self.seq
        out["positions"] = {
            k: {
                "venue": p.venue,
                "symbol": p.symbol,
                "quantity": str(p.quantity),
                "basis": str(p.basis),
                "realized": str(p.realized),
                "mark": None if p.mark is None else str(p.mark),
                "mark_ts": p.mark_ts,
            }
            for k, p in self.positions.items()
        }
        return out

    @classmethod
    def from_state(cls, st: Mapping[str, Any]) -> BotBook:
        book = cls(
            st["bot_id"],
            st["quote_currency"],
            Decimal(st["starting_cash"]),
            cash=Decimal(st["cash"]),
            realized=Decimal(st["realized"]),
            fees=Decimal(st["fees"]),
            peak_equity=Decimal(st["peak_equity"]),
            day=st["day"],
            day_start_equity=Decimal(st["day_start_equity"]),
            as_of=int(st.get("as_of", 0)),
            seq=int(st.get("seq", 0)),
        )
        for k, p in st["positions"].items():
            book.positions[k] = Position(
                p["venue"],
                p["symbol"],
                Decimal(p["quantity"]),
                Decimal(p["basis"]),
                Decimal(p["realized"]),
                None if p["mark"] is None else Decimal(p["mark"]),
                int(p.get("mark_ts", 0)),
            )
        return book


class Portfolio:
    """All bots' books; fills and clean bars (marks) in, snapshots out."""

    def __init__(
        self,
        bots: Mapping[str, tuple[str, Decimal]],
        trading: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """``bots``: bot id -> (quote currency, starting cash); ``trading``: venue:symbol ->
        the bots trading it (they get a snapshot on every clean bar of it)."""
        self.books = {b: BotBook(b, ccy, cash) for b, (ccy, cash) in bots.items()}
        self.trading = {k: sorted(v) for k, v in (trading or {}).items()}

    @classmethod
    def from_config(cls, config: DeskConfig) -> Portfolio:
        """Every enabled bot, its cash in the quote currency of its symbols."""
        bots = [b for b in config.bots if b.enabled]
        trading: dict[str, list[str]] = {}
        for b in bots:
            for s in b.symbols:
                trading.setdefault(f"{b.venue}:{s}", []).append(b.id)
        cash = {
            b.id: (config.instrument(b.venue, b.symbols[0]).quote_currency, b.starting_cash)
            for b in bots
        }
        return cls(cash, trading)

    def on_bar(self, bar: Mapping[str, Any]) -> list[str]:
        """Re-mark with a clean bar; the bots to snapshot: those it moved or that trade it."""
        moved = {b.bot_id for b in self.on_mark(bar)}
        return sorted(moved | set(self.trading.get(f"{bar['venue']}:{bar['symbol']}", ())))

    def on_fill(self, fill: Mapping[str, Any]) -> BotBook:
        book = self.books.get(fill["bot_id"])
        if book is None:
            raise PortfolioError(f"fill {fill['event_id']}: unknown bot {fill['bot_id']!r}")
        quote = fill["symbol"].partition("/")[2]
        if fill["fee_currency"] not in (quote, book.quote_currency):
            raise PortfolioError(
                f"fill {fill['event_id']}: fee in {fill['fee_currency']}, books keep {quote} fees"
            )
        book.roll_day(fill["ts_event"])
        qty, price, fee = tidy(fill["quantity"]), tidy(fill["price"]), tidy(fill["fee"])
        signed = qty if fill["side"] == "BUY" else -qty
        key = f"{fill['venue']}:{fill['symbol']}"
        pos = book.positions.setdefault(key, Position(fill["venue"], fill["symbol"]))
        if pos.mark is None:
            pos.mark = price
        realized = pos.apply(signed, price)
        book.cash -= signed * price + fee
        book.fees += fee
        book.realized += realized - fee
        pos.realized -= fee
        book.after_change()
        return book

    def on_mark(self, bar: Mapping[str, Any]) -> list[BotBook]:
        """A clean close re-marks every bot holding the symbol; returns the books it moved."""
        key = f"{bar['venue']}:{bar['symbol']}"
        mark = tidy(repr(bar["close"]))
        moved = []
        for book in self.books.values():
            pos = book.positions.get(key)
            if pos is not None and bar["ts_event"] >= pos.mark_ts:
                book.roll_day(bar["ts_event"])
                pos.mark, pos.mark_ts = mark, bar["ts_event"]
                book.after_change()
                moved.append(book)
        return moved

    def snapshot(
        self,
        bot_id: str,
        ts_ms: int,
        ts_ingest: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """A ``PortfolioSnapshot`` of one bot at an event time, after the event it names."""
        b = self.books[bot_id]
        # a fill that arrives late (the stream is arrival-ordered) must not date the books back
        ts_ms = b.as_of = max(ts_ms, b.as_of)
        b.seq += 1
        equity = b.equity()
        drawdown = _q((b.peak_equity - equity) / b.peak_equity) if b.peak_equity > 0 else ZERO
        return {
            **envelope(
                event_id("portfolio", bot_id, ts_ms, correlation_id),
                ts_ms,
                SOURCE,
                ts_ingest=ts_ingest,
                correlation_id=correlation_id,
            ),
            "bot_id": bot_id,
            "quote_currency": b.quote_currency,
            "trading_day": b.day or trading_day(ts_ms),
            "cash": _fit(b.cash),
            "equity": _fit(equity),
            "peak_equity": _fit(b.peak_equity),
            "drawdown": drawdown,
            "realized_pnl": _fit(b.realized),
            "unrealized_pnl": _fit(b.unrealized()),
            "daily_pnl": _fit(equity - b.day_start_equity),
            "fees": _fit(b.fees),
            "positions": [
                {
                    "venue": p.venue,
                    "symbol": p.symbol,
                    "quantity": _fit(p.quantity),
                    "avg_cost": _q(p.basis / p.quantity) if p.quantity else ZERO,
                    "mark": p.mark,
                    "market_value": _fit(p.market_value()),
                    "unrealized_pnl": _fit(p.unrealized()),
                    "realized_pnl": _fit(p.realized),
                }
                for _k, p in sorted(b.positions.items())
            ],
        }
