"""Trading on a real exchange through ccxt: orders, cancels and the venue's own view.

``CcxtVenue`` turns ``OrderCommand`` events into ccxt calls and the exchange's
answers into ``OrderEvent`` and ``Fill`` events (exact ``Decimal`` money, real
fills so ``fill_model_bias`` is None), and builds ``VenueReport`` events for
reconciliation. Every call goes through the feeds' :class:`Retrier`: transient
errors (network, 429, 5xx, timeouts) are retried, a refusal (insufficient
funds, invalid order, unknown order, bad symbol) becomes a REJECTED event and
an auth or config problem a one-line :class:`VenueError`.

Submits and cancels are idempotent: the command's ``client_order_id`` goes to
the exchange as its client order id, and a retry after a transient error first
looks the order up by that id, so a timeout after the venue accepted the order
never places it twice.

Live trading is off unless both the desk config and the operator's environment
say otherwise (:func:`live_allowed`); keys come only from the environment and
are never logged or put in an event or a message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import ccxt

from connectors.feeds.backoff import FeedError, FeedUnavailable, Retrier, one_line
from connectors.feeds.ccxt_feed import make_exchange, wall_ms
from streams.envelope import envelope
from streams.errors import DeskError
from streams.ids import event_id
from streams.redact import RedactingFilter, register

log = logging.getLogger(__name__)

Event = dict[str, Any]
Record = dict[str, Any]

LIVE_ENV = "DESK_LIVE_TRADING"
LIVE_TOKEN = "I_UNDERSTAND"
ANY_BOT = "*"  # fills and orders the venue reports without a command to name their bot

# refusals by the exchange: the order is rejected, the desk carries on
REJECTS = (ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.BadSymbol, ccxt.BadRequest)
# the desk cannot trade at all until an operator acts: raised, never turned into events
FATAL = (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)

_STATUS = {"closed": "FILLED", "canceled": "CANCELED", "expired": "EXPIRED", "rejected": "REJECTED"}
_SCALE = Decimal(1).scaleb(-18)  # Avro decimal(38, 18)


class _Redact(RedactingFilter):
    """ccxt's own DEBUG log prints request headers (the API key): the keys are made known
    secrets (``streams.redact``) and the filter masks them on ccxt's logger."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        register(*secrets)


class VenueError(DeskError):
    """The venue cannot be used as configured (keys, live switch, sandbox); one line."""


def live_allowed(config_live: bool, env: Mapping[str, str]) -> bool:
    """Live orders need two independent yeses: the desk config and the operator's shell."""
    return bool(config_live) and env.get(LIVE_ENV) == LIVE_TOKEN


def dec(x: Any) -> Decimal:
    """ccxt's floats/strings as exact decimals (``str`` first: no binary float noise)."""
    d = Decimal(str(x)) if x is not None else Decimal(0)
    return d.quantize(_SCALE) if d.as_tuple().exponent < -18 else d  # type: ignore[operator]


def _opt_dec(x: Any) -> Decimal | None:
    return None if x is None else dec(x)


def make_venue(
    exchange_id: str,
    *,
    live_config: bool,
    sandbox: bool,
    env: Mapping[str, str] | None = None,
    **venue_kw: Any,
) -> CcxtVenue:
    """An authenticated venue: the exchange's sandbox, or live only if :func:`live_allowed`.

    Keys come from ``DESK_<EXCHANGE>_API_KEY`` / ``DESK_<EXCHANGE>_SECRET``
    (as for the feed, :func:`make_exchange`).
    """
    env = os.environ if env is None else env
    try:
        exchange = make_exchange(exchange_id, env)
    except FeedError as exc:
        raise VenueError(str(exc)) from None
    if not sandbox and not live_allowed(live_config, env):
        raise VenueError(
            f"refusing to trade live on {exchange_id}: set the desk's live switch and "
            f"{LIVE_ENV}={LIVE_TOKEN} in the environment, or use the sandbox"
        )
    prefix = f"DESK_{exchange_id.upper()}_"
    if not (exchange.apiKey and exchange.secret):
        raise VenueError(
            f"{exchange_id}: trading needs {prefix}API_KEY and {prefix}SECRET in the environment"
        )
    if sandbox:
        try:
            exchange.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise VenueError(
                f"{exchange_id} has no sandbox (testnet) in ccxt; pick another exchange "
                "or trade live deliberately"
            ) from None
    return CcxtVenue(exchange, **venue_kw)


class CcxtVenue:
    """One exchange account: commands in, ``OrderEvent``/``Fill``/``VenueReport`` out."""

    def __init__(
        self,
        exchange: ccxt.Exchange,
        *,
        account: str = "main",
        symbols: Sequence[str] = (),
        retrier: Retrier | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        """``symbols``: the desk's markets here (trades and spot positions are per symbol)."""
        exchange.enableRateLimit = True
        # we do ask for all open orders at once, rarely and on purpose (cancel-all, reports)
        exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        logging.getLogger("ccxt.base.exchange").addFilter(
            _Redact(str(exchange.apiKey or ""), str(exchange.secret or ""))
        )
        self.exchange = exchange
        self.venue = str(exchange.id)
        self.account = account
        self.symbols = list(symbols)
        self.retrier = retrier or Retrier(exchange)
        self.clock = clock
        self.source = f"venue.ccxt.{self.venue}"

    # -- commands -----------------------------------------------------------------------------

    def submit(self, command: Event) -> list[Event]:
        """Place a SUBMIT command's order; its OrderEvent and any immediate Fills."""
        symbol, cid = command["symbol"], command["client_order_id"]
        if not symbol or not cid or command.get("command") != "SUBMIT":
            return [self._reject(command, "not a SUBMIT with a symbol and a client_order_id")]
        kind = command["order_type"]
        params: dict[str, Any] = {"clientOrderId": cid}
        if kind == "POST_ONLY":
            params["postOnly"] = True
        elif kind == "LIMIT":
            params["timeInForce"] = command.get("time_in_force") or "GTC"
        price = command.get("limit_price")
        ex = self.exchange

        def place() -> Record:
            return ex.create_order(
                symbol,
                "market" if kind == "MARKET" else "limit",
                command["side"].lower(),
                float(command["quantity"]),
                None if kind == "MARKET" or price is None else float(price),
                params,
            )

        try:
            order = self._once("create_order", symbol, cid, place)
        except FeedUnavailable:
            raise  # outcome unknown: a reject could hide a live order; recon decides
        except FeedError as exc:
            return [self._refused(command, exc)]
        return self._order_events(order, command)

    def cancel(self, command: Event) -> list[Event]:
        """Cancel one order by client id; a venue that does not know it gives REJECTED."""
        symbol, cid = command["symbol"], command["client_order_id"]
        if not symbol or not cid:
            return [self._reject(command, "a CANCEL needs a symbol and a client_order_id")]
        ex = self.exchange

        def cancel() -> Record:
            return ex.cancel_order(None, symbol, {"origClientOrderId": cid})

        try:
            order = self._once("cancel_order", symbol, cid, cancel, done=_is_final)
        except FeedUnavailable:
            raise  # outcome unknown: a reject could hide a live order; recon decides
        except FeedError as exc:
            return [self._refused(command, exc)]
        return self._order_events(order, command)

    def cancel_all(
        self, symbol: str | None = None, *, bot_id: str = ANY_BOT, correlation_id: str | None = None
    ) -> list[Event]:
        """Cancel every open order (of ``symbol``, or all): a CANCELED event per order."""
        ex = self.exchange
        symbols = [symbol] if symbol else sorted({o["symbol"] for o in self._open()})
        ctx = {"bot_id": bot_id, "correlation_id": correlation_id}
        events: list[Event] = []
        for s in symbols:
            try:
                orders = self.retrier.call(
                    "cancel_all_orders", s, lambda s=s: ex.cancel_all_orders(s)
                )
            except FeedError as exc:
                if isinstance(exc.__cause__, ccxt.OrderNotFound):
                    continue  # Binance: "Unknown order sent." when nothing was open
                self._raise_if_fatal(exc)
                raise
            for order in orders or ():
                events += self._order_events({**order, "status": "canceled"}, ctx)
        return events

    # -- the venue's view ---------------------------------------------------------------------

    def open_orders(self) -> list[Record]:
        """Open orders as ``OpenOrder`` records (VenueReport)."""
        return [
            {
                "client_order_id": o.get("clientOrderId") or "",
                "venue_order_id": _str(o.get("id")),
                "symbol": o["symbol"],
                "side": o["side"].upper(),
                "quantity": dec(o.get("amount")),
                "remaining": dec(o.get("remaining")),
                "limit_price": _opt_dec(o.get("price")) if o.get("type") != "market" else None,
            }
            for o in self._open()
        ]

    def my_trades(self, since: int | None, symbols: Iterable[str] | None = None) -> list[Event]:
        """The account's executions since ``since`` (ms) as ``Fill`` events, oldest first."""
        ex = self.exchange
        trades: list[Record] = []
        for s in self.symbols if symbols is None else symbols:
            trades += self._call("fetch_my_trades", s, lambda s=s: ex.fetch_my_trades(s, since))
        trades.sort(key=lambda t: (t.get("timestamp") or 0, str(t.get("id"))))
        return [self._fill(t, {"bot_id": ANY_BOT}) for t in trades]

    def balances(self) -> list[Record]:
        """Non-zero balances as ``Balance`` records, by asset."""
        bal = self._call("fetch_balance", None, self.exchange.fetch_balance)
        total, free = bal.get("total") or {}, bal.get("free") or {}
        return [
            {"asset": a, "total": dec(total[a]), "free": dec(free.get(a))}
            for a in sorted(total)
            if total[a]
        ]

    def positions(self, balances: list[Record] | None = None) -> list[Record]:
        """``VenuePosition`` records: the exchange's positions where it has them (derivatives);
        on spot, the base-asset balance of each of the venue's symbols."""
        ex = self.exchange
        if ex.has.get("fetchPositions"):
            rows = self._call("fetch_positions", None, lambda: ex.fetch_positions(self.symbols))
            out = []
            for p in rows:
                qty = dec(p.get("contracts")) * dec(p.get("contractSize") or 1)
                out.append(
                    {
                        "symbol": p["symbol"],
                        "quantity": -qty if p.get("side") == "short" else qty,
                        "avg_price": _opt_dec(p.get("entryPrice")),
                    }
                )
            return out
        held = {b["asset"]: b["total"] for b in (self.balances() if balances is None else balances)}
        self._call("load_markets", None, ex.load_markets)
        return [
            {"symbol": s, "quantity": held.get(ex.market(s)["base"], Decimal(0)), "avg_price": None}
            for s in self.symbols
        ]

    def report(self, since: int | None = None, *, correlation_id: str | None = None) -> Event:
        """A ``VenueReport``: fills since ``since`` (ms), balances, positions, open orders."""
        now = self.clock()
        fills = [
            {k: f[k] for k in ("trade_id", "client_order_id", "symbol", "side", "price",
                               "quantity", "fee", "fee_currency")} | {"ts": f["ts_event"]}
            for f in self.my_trades(since)
        ]  # fmt: skip
        balances = self.balances()
        return {
            **envelope(
                event_id("venue_report", self.venue, self.account, now),
                now,
                self.source,
                correlation_id=correlation_id,
            ),
            "venue": self.venue,
            "account": self.account,
            "fills": fills,
            "balances": balances,
            "positions": self.positions(balances),
            "open_orders": self.open_orders(),
        }

    # -- calls --------------------------------------------------------------------------------

    def _call(self, what: str, symbol: str | None, fn: Callable[[], Any]) -> Any:
        """A read with retries; auth problems become a one-line VenueError."""
        try:
            return self.retrier.call(what, symbol, fn)
        except FeedError as exc:
            self._raise_if_fatal(exc)
            raise

    def _once(
        self,
        what: str,
        symbol: str,
        cid: str,
        act: Callable[[], Record],
        done: Callable[[Record], bool] = lambda _o: True,
    ) -> Record:
        """``act()`` at most once at the venue: after a transient failure, every retry first
        looks the order up by client id and takes what it finds (if ``done`` says so)."""
        tried = False

        def attempt() -> Record:
            nonlocal tried
            if tried:
                found = self._lookup(symbol, cid)
                if found is not None and done(found):
                    log.info("%s %s: %s after a retry found %s", self.venue, symbol, what, cid)
                    return found
            tried = True
            return act()

        return self.retrier.call(what, symbol, attempt)

    def _lookup(self, symbol: str, cid: str) -> Record | None:
        """The order with client id ``cid``, or None if the venue never saw it."""
        try:
            return self.exchange.fetch_order(None, symbol, {"origClientOrderId": cid})
        except ccxt.OrderNotFound:
            return None

    def _open(self) -> list[Record]:
        ex = self.exchange
        return list(self._call("fetch_open_orders", None, lambda: ex.fetch_open_orders()))

    def _raise_if_fatal(self, exc: FeedError) -> None:
        if isinstance(exc.__cause__, FATAL):
            raise VenueError(f"{self.venue} account {self.account}: {exc}") from None

    # -- events -------------------------------------------------------------------------------

    def _refused(self, command: Event, exc: FeedError) -> Event:
        """A non-transient failure: REJECTED with the venue's reason, unless it is fatal."""
        self._raise_if_fatal(exc)
        cause = exc.__cause__
        reason = one_line(cause) if isinstance(cause, ccxt.BaseError) else str(exc)
        if not isinstance(cause, (*REJECTS, ccxt.OrderNotFound)):
            log.warning("%s: unexpected exchange error, order rejected: %s", self.venue, reason)
        return self._reject(command, f"{self.venue}: {reason}")

    def _reject(self, command: Event, reason: str) -> Event:
        now = self.clock()
        cid = command.get("client_order_id") or ""
        return self._order_event(
            command,
            status="REJECTED",
            ts=now,
            symbol=command.get("symbol") or "",
            cid=cid,
            venue_order_id=None,
            side=command.get("side"),
            order_type=command.get("order_type"),
            quantity=command.get("quantity"),
            limit_price=command.get("limit_price"),
            filled=Decimal(0),
            reason=reason,
            key=(command.get("command"), command.get("event_id")),
        )

    def _order_events(self, order: Record, ctx: Event) -> list[Event]:
        """The order's status as an OrderEvent, then a Fill per trade the venue reported."""
        filled = dec(order.get("filled"))
        status = _STATUS.get(order.get("status") or "")
        if status is None:  # "open"
            status = "PARTIALLY_FILLED" if filled > 0 else "ACCEPTED"
        elif status == "FILLED" and filled < dec(order.get("amount")):
            status = "PARTIALLY_FILLED"
        if order.get("type") == "market":
            kind = "MARKET"
        else:
            kind = "POST_ONLY" if order.get("postOnly") else "LIMIT"
        # a Binance cancel answers with the cancel's own client id; the order's is "orig..."
        info = order.get("info") or {}
        cid = info.get("origClientOrderId") or order.get("clientOrderId")
        cid = cid or ctx.get("client_order_id") or ""
        event = self._order_event(
            ctx,
            status=status,
            ts=order.get("lastUpdateTimestamp") or order.get("timestamp") or self.clock(),
            symbol=order["symbol"],
            cid=cid,
            venue_order_id=_str(order.get("id")),
            side=(order.get("side") or "").upper() or None,
            order_type=kind,
            quantity=_opt_dec(order.get("amount")),
            limit_price=_opt_dec(order.get("price")) if kind != "MARKET" else None,
            filled=filled,
            reason=None,
            key=(order.get("id"), filled),
        )
        ctx = {**ctx, "client_order_id": cid}
        return [event, *(self._fill({**t, "order": order.get("id")}, ctx, order)
                         for t in order.get("trades") or ())]  # fmt: skip

    def _order_event(self, ctx: Event, *, status: str, ts: Any, symbol: str, cid: str,
                     venue_order_id: str | None, side: str | None, order_type: str | None,
                     quantity: Any, limit_price: Any, filled: Decimal, reason: str | None,
                     key: tuple[Any, ...]) -> Event:  # fmt: skip
        return {
            **envelope(
                event_id("order_event", self.venue, self.account, cid, status, *key),
                int(ts),
                self.source,
                ts_ingest=self.clock(),
                correlation_id=ctx.get("correlation_id"),
            ),
            "bot_id": ctx.get("bot_id") or ANY_BOT,
            "venue": self.venue,
            "account": self.account,
            "symbol": symbol,
            "client_order_id": cid,
            "venue_order_id": venue_order_id,
            "status": status,
            "side": side,
            "order_type": order_type,
            "quantity": _opt_dec(quantity),
            "limit_price": _opt_dec(limit_price),
            "filled_quantity": filled,
            "reason": reason,
        }

    def _fill(self, t: Record, ctx: Event, order: Record | None = None) -> Event:
        fee = t.get("fee") or {}
        symbol = t.get("symbol") or (order or {}).get("symbol")
        market = self.exchange.market(symbol) if self.exchange.markets else {}
        side = t.get("side") or (order or {}).get("side")
        ts = t.get("timestamp") or (order or {}).get("timestamp") or self.clock()
        trade_id = _str(t.get("id")) or event_id("trade", self.venue, t.get("order"), ts)
        return {
            **envelope(
                event_id("fill", self.venue, self.account, symbol, trade_id),
                int(ts),
                self.source,
                ts_ingest=self.clock(),
                correlation_id=ctx.get("correlation_id"),
            ),
            "bot_id": ctx.get("bot_id") or ANY_BOT,
            "venue": self.venue,
            "account": self.account,
            "symbol": symbol,
            "client_order_id": (order or {}).get("clientOrderId")
            or ctx.get("client_order_id")
            or (t.get("info") or {}).get("clientOrderId")
            or "",
            "venue_order_id": _str(t.get("order")),
            "trade_id": trade_id,
            "side": side.upper(),
            "price": dec(t.get("price")),
            "quantity": dec(t.get("amount")),
            "fee": dec(fee.get("cost")),
            "fee_currency": fee.get("currency") or market.get("quote") or "",
            "liquidity": "MAKER" if t.get("takerOrMaker") == "maker" else "TAKER",
            "fill_model_bias": None,
        }


def _is_final(order: Record) -> bool:
    """A cancel already done: the order is no longer open."""
    return order.get("status") in ("canceled", "closed", "expired", "rejected")


def _str(x: Any) -> str | None:
    return None if x is None else str(x)
