"""Live market data from any ccxt exchange: closed bars and top-of-book quotes.

``LiveFeed.poll_once`` makes one round of REST calls (``fetch_ohlcv`` per
symbol, plus the order-book top or the ticker for a ``Quote``) and returns the
events to publish; ``run`` repeats it until stopped. ``fetch_history`` pages
``fetch_ohlcv`` over a past window for ``desk data fetch``. The only I/O is
ccxt's: its rate limiter (``enableRateLimit``, ``exchange.rateLimit`` ms per
request weight) is always on, and every call goes through a :class:`Retrier`.

A bar is emitted once, when final: its close time (``open_time + interval``,
plus ``settle_ms``) is not after "now" (the injected clock, corrected by the
exchange's clock when ``sync_clock`` could read it). The still-forming bar is
held back and its final values go out on a later poll.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import ccxt

from connectors.feeds.backoff import FeedError, FeedUnavailable, Retrier
from connectors.feeds.normalize import INTERVAL_MS, bar_event
from streams import redact
from streams.envelope import envelope
from streams.ids import event_id

log = logging.getLogger(__name__)

BARS_TOPIC = "market.bars"
QUOTES_TOPIC = "market.quotes"

Event = dict[str, Any]
Sink = Callable[[str, Event], None]


def wall_ms() -> int:
    """Wall-clock time in ms UTC (the default clock; tests inject their own)."""
    return time.time_ns() // 1_000_000


def source_name(exchange_id: str) -> str:
    return f"feed.ccxt.{exchange_id}"


def make_exchange(exchange_id: str, env: Mapping[str, str] | None = None) -> ccxt.Exchange:
    """A sync ccxt exchange with its rate limiter on.

    Public market data needs no keys. If ``DESK_<EXCHANGE>_API_KEY`` and
    ``DESK_<EXCHANGE>_SECRET`` are set they are passed to ccxt as they are, and
    never printed or logged.
    """
    if exchange_id not in ccxt.exchanges:
        raise FeedError(
            f"unknown exchange {exchange_id!r}: use a ccxt exchange id such as binanceus, "
            "kraken, coinbase (python -c 'import ccxt; print(ccxt.exchanges)' lists them)"
        )
    env = os.environ if env is None else env
    config: dict[str, Any] = {"enableRateLimit": True}
    prefix = f"DESK_{exchange_id.upper()}_"
    if env.get(prefix + "API_KEY") and env.get(prefix + "SECRET"):
        config["apiKey"] = env[prefix + "API_KEY"]
        config["secret"] = env[prefix + "SECRET"]
        redact.register(config["apiKey"], config["secret"])  # no log line or error shows them
    return getattr(ccxt, exchange_id)(config)


def bar_interval_ms(exchange: ccxt.Exchange, timeframe: str) -> int:
    """The bar length of ``timeframe``, if both the desk and the exchange know it."""
    if timeframe not in INTERVAL_MS:
        raise FeedError(
            f"timeframe {timeframe!r} is not a desk bar interval; use one of "
            f"{', '.join(INTERVAL_MS)}"
        )
    timeframes = getattr(exchange, "timeframes", None)
    if timeframes and timeframe not in timeframes:
        raise FeedError(
            f"{exchange.id} has no {timeframe!r} bars; it offers {', '.join(timeframes)}"
        )
    return INTERVAL_MS[timeframe]


def max_ohlcv_limit(exchange: ccxt.Exchange) -> int | None:
    """Most bars one ``fetch_ohlcv`` call returns, from ccxt's ``features``; None if unknown."""
    features = getattr(exchange, "features", None) or {}
    market_type = (getattr(exchange, "options", None) or {}).get("defaultType") or "spot"
    spec = (features.get(market_type) or features.get("spot") or {}).get("fetchOHLCV") or {}
    limit = spec.get("limit")
    return int(limit) if limit else None


def load_and_check(retrier: Retrier, symbols: Iterable[str], timeframe: str) -> int:
    """Load markets (with retries) and fail fast on an unknown symbol or timeframe.

    Returns the bar interval in ms.
    """
    exchange = retrier.exchange
    if not exchange.has.get("fetchOHLCV"):
        raise FeedError(f"{exchange.id} has no OHLCV (fetch_ohlcv) in ccxt")
    retrier.call("load markets", None, exchange.load_markets)
    for symbol in symbols:
        if symbol not in exchange.markets:
            raise FeedError(
                f"{exchange.id} {symbol}: unknown symbol (ccxt unified symbols look like BTC/USDT)"
            )
    return bar_interval_ms(exchange, timeframe)


def quote_event(
    *,
    venue: str,
    symbol: str,
    ts_ms: int,
    bid: float,
    ask: float,
    bid_size: float,
    ask_size: float,
    ts_ingest: int,
    source: str,
) -> Event:
    """A recorded (not synthetic) ``Quote``; the id is UUIDv5 of venue, symbol and time."""
    return {
        **envelope(event_id("quote", venue, symbol, ts_ms), ts_ms, source, ts_ingest=ts_ingest),
        "venue": venue,
        "symbol": symbol,
        "bid": float(bid),
        "ask": float(ask),
        "bid_size": float(bid_size),
        "ask_size": float(ask_size),
        "synthetic": False,
        "fill_model_bias": None,
    }


def _ohlcv_ok(row: Sequence[Any]) -> bool:
    return len(row) >= 6 and all(v is not None for v in row[:6])


class LiveFeed:
    """Polls closed bars and quotes for some symbols of one exchange."""

    def __init__(
        self,
        exchange: ccxt.Exchange,
        symbols: Sequence[str],
        timeframe: str = "1m",
        *,
        quotes: bool = True,
        book_depth: int = 5,
        backfill: int = 1,
        settle_ms: int = 2_000,
        page_limit: int | None = None,
        clock: Callable[[], int] = wall_ms,
        retrier: Retrier | None = None,
        warn: Callable[[str], None] = log.warning,
    ) -> None:
        """``backfill``: closed bars emitted on a symbol's first poll; ``settle_ms``: how
        long after its close a bar is still left to the exchange to finish (late trades)."""
        if not symbols:
            raise FeedError("the live feed needs at least one symbol")
        exchange.enableRateLimit = True  # never poll faster than the exchange allows
        self.exchange = exchange
        self.venue = str(exchange.id)
        self.source = source_name(self.venue)
        self.symbols = list(dict.fromkeys(symbols))
        self.timeframe = timeframe
        self.quotes = quotes
        self.book_depth = book_depth
        self.backfill = max(0, backfill)
        self.settle_ms = max(0, settle_ms)
        self.page_limit = page_limit or max_ohlcv_limit(exchange)
        self.clock = clock
        self.retrier = retrier or Retrier(exchange)
        self.warn = warn
        self.clock_offset_ms = 0
        self._interval_ms: int | None = None
        self._last_open: dict[str, int] = {}  # last emitted (or skipped-over) bar per symbol

    # -- time -------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The exchange's time as best we know it: our clock plus the measured offset."""
        return self.clock() + self.clock_offset_ms

    def sync_clock(self) -> int:
        """Measure our clock's offset from the exchange's (if it tells its time)."""
        if not self.exchange.has.get("fetchTime"):
            return self.clock_offset_ms
        try:
            server = self.retrier.call("fetch_time", None, self.exchange.fetch_time)
        except FeedError as exc:  # optional: the local clock will do
            self.warn(f"{exc}; using the local clock")
            return self.clock_offset_ms
        if server:
            self.clock_offset_ms = int(server) - self.clock()
        return self.clock_offset_ms

    # -- one round --------------------------------------------------------------------------

    def _prepare(self) -> int:
        if self._interval_ms is None:
            self._interval_ms = load_and_check(self.retrier, self.symbols, self.timeframe)
            has = self.exchange.has
            if self.quotes and not (has.get("fetchOrderBook") or has.get("fetchTicker")):
                self.warn(f"{self.venue} has neither an order book nor a ticker: no quotes")
                self.quotes = False
        return self._interval_ms

    def poll_once(self) -> list[tuple[str, Event]]:
        """One round over every symbol: ``(topic, event)`` pairs, bars in open-time order.

        A symbol whose calls keep failing transiently is skipped for this round
        (with a warning); a non-transient error (bad symbol, auth) raises.
        """
        return list(self._round())

    def _round(self) -> Iterator[tuple[str, Event]]:
        """Events as they come: ``run`` sends a symbol's bars before the next one is asked."""
        iv = self._prepare()
        for symbol in self.symbols:
            try:
                for bar in self._closed_bars(symbol, iv):
                    yield BARS_TOPIC, bar
                if self.quotes:
                    quote = self._quote(symbol)
                    if quote is not None:
                        yield QUOTES_TOPIC, quote
            except FeedUnavailable as exc:
                self.warn(f"skipping this round: {exc}")

    def _closed_bars(self, symbol: str, iv: int) -> list[Event]:
        now = self.now_ms()
        unsettled_open = (now - self.settle_ms) // iv * iv  # the first bar not final yet
        last = self._last_open.setdefault(symbol, unsettled_open - (self.backfill + 1) * iv)
        if now < last + 2 * iv + self.settle_ms:
            return []  # the next bar has not closed yet: no request needed
        since = last + iv
        ex = self.exchange
        rows = self.retrier.call(
            "fetch_ohlcv",
            symbol,
            partial(ex.fetch_ohlcv, symbol, self.timeframe, since=since, limit=self.page_limit),
        )
        by_open = {int(r[0]): r for r in rows or () if r and r[0] is not None}
        bars: list[Event] = []
        for t in sorted(by_open):
            row = by_open[t]
            if t <= last:
                continue  # already emitted
            if t + iv + self.settle_ms > now:
                break  # the still-forming bar (and anything after it) waits
            if not _ohlcv_ok(row):
                self.warn(f"{self.venue} {symbol}: incomplete bar at {t} skipped: {row!r}")
                continue
            bar = bar_event(
                venue=self.venue,
                symbol=symbol,
                interval=self.timeframe,
                open_time_ms=t,
                open=row[1],
                high=row[2],
                low=row[3],
                close=row[4],
                volume=row[5],
                source=self.source,
            )
            bar["ts_ingest"] = self.clock()
            bars.append(bar)
            last = t
        self._last_open[symbol] = last
        return bars

    def _quote(self, symbol: str) -> Event | None:
        has = self.exchange.has
        if has.get("fetchOrderBook"):
            book = self.retrier.call(
                "fetch_order_book",
                symbol,
                partial(self.exchange.fetch_order_book, symbol, limit=self.book_depth),
            )
            bids, asks = book.get("bids") or [], book.get("asks") or []
            if not bids or not asks:
                self.warn(f"{self.venue} {symbol}: empty order book side, no quote")
                return None
            bid, bid_size = bids[0][0], bids[0][1]
            ask, ask_size = asks[0][0], asks[0][1]
            ts = book.get("timestamp")
        else:
            fetch = partial(self.exchange.fetch_ticker, symbol)
            ticker = self.retrier.call("fetch_ticker", symbol, fetch)
            bid, ask = ticker.get("bid"), ticker.get("ask")
            if bid is None or ask is None:
                self.warn(f"{self.venue} {symbol}: ticker without bid/ask, no quote")
                return None
            bid_size, ask_size = ticker.get("bidVolume") or 0.0, ticker.get("askVolume") or 0.0
            ts = ticker.get("timestamp")
        return quote_event(
            venue=self.venue,
            symbol=symbol,
            ts_ms=int(ts) if ts else self.now_ms(),  # books often carry no time: ours
            bid=bid,
            ask=ask,
            bid_size=bid_size,
            ask_size=ask_size,
            ts_ingest=self.clock(),
            source=self.source,
        )

    # -- the loop ---------------------------------------------------------------------------

    def run(
        self,
        sink: Sink,
        stop: threading.Event,
        *,
        poll_interval_s: float = 5.0,
        max_rounds: int | None = None,
    ) -> int:
        """Poll until ``stop`` is set (or ``max_rounds``); returns the events sent."""
        self._prepare()
        self.sync_clock()
        sent = rounds = 0
        while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
            started = time.monotonic()
            for topic, event in self._round():
                sink(topic, event)
                sent += 1
            rounds += 1
            stop.wait(max(0.0, poll_interval_s - (time.monotonic() - started)))
        return sent


# -- history --------------------------------------------------------------------------------


def fetch_history(
    exchange: ccxt.Exchange,
    symbol: str,
    timeframe: str,
    since_ms: int,
    until_ms: int | None = None,
    *,
    page_limit: int | None = None,
    settle_ms: int = 2_000,
    clock: Callable[[], int] = wall_ms,
    retrier: Retrier | None = None,
    on_page: Callable[[int, int], None] | None = None,
) -> list[list[float]]:
    """Closed bars with ``since <= open_time < until``, oldest first, one page per call.

    Each page starts just after the last bar received, so pages never overlap
    and a gap in the exchange's data is skipped, not looped on. ``on_page(rows,
    last_open_ms)`` reports progress.
    """
    exchange.enableRateLimit = True
    retrier = retrier or Retrier(exchange)
    iv = load_and_check(retrier, [symbol], timeframe)
    limit = page_limit or max_ohlcv_limit(exchange)
    closed_end = clock() - settle_ms - iv + 1  # bars opened before this have closed
    end = closed_end if until_ms is None else min(until_ms, closed_end)
    out: list[list[float]] = []
    cursor = since_ms
    while cursor < end:
        rows = retrier.call(
            "fetch_ohlcv",
            symbol,
            partial(exchange.fetch_ohlcv, symbol, timeframe, since=cursor, limit=limit),
        )
        page = sorted({int(r[0]): r for r in rows or () if r and _ohlcv_ok(r)}.items())
        page = [(t, r) for t, r in page if cursor <= t < end]
        if not page:
            break  # nothing more in the window
        out.extend([t, *(float(v) for v in r[1:6])] for t, r in page)
        cursor = page[-1][0] + iv
        if on_page is not None:
            on_page(len(page), page[-1][0])
    return out
