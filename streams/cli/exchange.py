"""``desk data fetch`` (download exchange history to a file) and ``desk feed live``.

Both build a ccxt exchange through a factory that tests may replace via the
click context object (``obj={"exchange_factory": ..., "clock": ...}``), so the
commands run end to end against a real ccxt object without a network. ccxt and
pandas are imported inside the commands: every other ``desk`` command starts
without paying for them.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import console
from streams.errors import DeskError

data_app = typer.Typer(
    help="Market-data files: download real exchange history (ccxt).", no_args_is_help=True
)
err = console(stderr=True)

ExchangeOpt = Annotated[
    str, typer.Option(help="ccxt exchange id, e.g. binanceus, kraken, coinbase.")
]
TimeframeOpt = Annotated[str, typer.Option(help="Bar interval: 1m, 5m, 1h or 1d.")]


def _hooks(ctx: typer.Context) -> dict[str, Any]:
    from connectors.feeds.ccxt_feed import make_exchange, wall_ms

    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    return {
        "exchange_factory": obj.get("exchange_factory", make_exchange),
        "clock": obj.get("clock", wall_ms),
    }


def parse_utc(text: str, option: str) -> int:
    """``2023-03-01`` or ``2023-03-01T12:00[:00][+01:00]`` as epoch ms; naive means UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DeskError(
            f"{option} {text!r}: not a date/time; use e.g. 2023-03-01 or 2023-03-01T12:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@data_app.command("fetch")
def fetch(
    ctx: typer.Context,
    exchange: ExchangeOpt,
    symbol: Annotated[str, typer.Option(help="ccxt unified symbol, e.g. BTC/USDT.")],
    since: Annotated[
        str, typer.Option(help="First bar's open time, UTC: 2023-03-01 or 2023-03-01T12:00.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Output file; the extension picks the format.")
    ],
    timeframe: TimeframeOpt = "1m",
    until: Annotated[
        str | None,
        typer.Option(help="End (exclusive), UTC; default: now. Only closed bars are written."),
    ] = None,
    page_size: Annotated[
        int | None,
        typer.Option(help="Bars per request (default: the exchange's maximum).", min=1),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Download real OHLCV history from an exchange into a CSV or Parquet file.

    Pages through fetch_ohlcv within the exchange's rate limit, retrying
    transient errors (429, 5xx, timeouts) with backoff. Writes the desk's
    generic OHLCV format: venue,symbol,interval,open_time,open,high,low,close,volume
    (open_time ISO-8601 UTC). Public data: no API keys needed.

    Examples:

      $ desk data fetch --exchange binanceus --symbol BTC/USDT \\
          --since 2023-03-01 --until 2023-03-02 --out btc.parquet \\
          # needs: network
    """
    from connectors.feeds.ccxt_feed import bar_interval_ms, fetch_history
    from connectors.feeds.ohlcv_out import file_format, iso_utc, ohlcv_frame, write_ohlcv
    from streams.progress import progress_bar

    hooks = _hooks(ctx)
    file_format(out)  # a bad extension fails before any download
    since_ms = parse_utc(since, "--since")
    until_ms = parse_utc(until, "--until") if until else None
    if until_ms is not None and until_ms <= since_ms:
        raise DeskError(f"--until {until} must be after --since {since}")
    now = hooks["clock"]()
    if since_ms >= now:
        raise DeskError(f"--since {since} is in the future")

    started = time.monotonic()
    ex = hooks["exchange_factory"](exchange)
    iv = bar_interval_ms(ex, timeframe)
    expected = max(1, ((until_ms or now) - since_ms) // iv)
    with progress_bar(err, disable=json_out) as progress:
        task = progress.add_task(f"{exchange} {symbol} {timeframe}", total=expected)

        def on_page(rows: int, _last_open: int) -> None:
            progress.advance(task, rows)

        rows = fetch_history(
            ex,
            symbol,
            timeframe,
            since_ms,
            until_ms,
            page_limit=page_size,
            clock=hooks["clock"],
            on_page=on_page,
        )
    if not rows:
        raise DeskError(
            f"{exchange} {symbol} {timeframe}: no closed bars from {iso_utc(since_ms)}"
            + (f" to {iso_utc(until_ms)}" if until_ms else "")
        )
    write_ohlcv(ohlcv_frame(str(ex.id), symbol, timeframe, rows), out)
    summary = {
        "exchange": str(ex.id),
        "symbol": symbol,
        "timeframe": timeframe,
        "rows": len(rows),
        "first_open_time": iso_utc(int(rows[0][0])),
        "last_open_time": iso_utc(int(rows[-1][0])),
        "file": str(out),
        "seconds": round(time.monotonic() - started, 3),
    }
    if json_out:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        err.print(
            f"wrote {summary['rows']} {timeframe} bars of {ex.id} {symbol} "
            f"({summary['first_open_time']} .. {summary['last_open_time']}) to {out} "
            f"in {summary['seconds']} s"
        )


def feed_live(
    ctx: typer.Context,
    exchange: ExchangeOpt,
    symbol: Annotated[
        list[str], typer.Option("--symbol", help="ccxt unified symbol; repeat for several.")
    ],
    timeframe: TimeframeOpt = "1m",
    quotes: Annotated[
        bool, typer.Option(help="Also publish top-of-book quotes (market.quotes).")
    ] = True,
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between polling rounds.", min=0.5)
    ] = 5.0,
    backfill: Annotated[
        int, typer.Option(help="Closed bars per symbol to publish at start.", min=0)
    ] = 1,
    book_depth: Annotated[int, typer.Option(help="Order-book levels to request.", min=1)] = 5,
) -> None:
    """Poll an exchange and publish closed bars and quotes to the running desk.

    Bars go to market.bars once final (never re-sent), quotes to market.quotes,
    keyed venue:symbol (a quote that cannot be real, e.g. crossed, NaN or outside the
    desk's universe, goes to deadletter with the reason instead). Runs until Ctrl-C.
    Needs a running desk (desk up) or DESK_BROKER_URL. Public data: no API keys needed.

    Examples:

      $ desk feed live --exchange binanceus --symbol BTC/USDT \\
          # needs: desk up, network
    """
    from agents.dq.containment import QuoteGate
    from connectors.feeds.backoff import Retrier
    from connectors.feeds.ccxt_feed import BARS_TOPIC, QUOTES_TOPIC, LiveFeed
    from connectors.feeds.ohlcv_out import iso_utc
    from streams.config import load_config
    from streams.kafka import EventProducer
    from streams.settings import load_settings
    from streams.topics import stream_key

    hooks = _hooks(ctx)
    settings = load_settings()
    gate = QuoteGate.from_config(load_config(settings.config_file))
    producer = EventProducer(context.bootstrap(settings), settings.topic_prefix)
    stop = threading.Event()
    ex = hooks["exchange_factory"](exchange)
    feed = LiveFeed(
        ex,
        symbol,
        timeframe,
        quotes=quotes,
        book_depth=book_depth,
        backfill=backfill,
        clock=hooks["clock"],
        retrier=Retrier(ex, sleep=stop.wait),  # Ctrl-C cuts a backoff wait short
        warn=lambda msg: err.print(f"[yellow]warning:[/] {msg}", highlight=False),
    )
    counts: Counter[str] = Counter()

    def sink(topic: str, event: dict[str, Any]) -> None:
        rejection = gate.check(event) if topic == QUOTES_TOPIC else None
        if rejection is not None:
            dead = quote_dead_letter(event, rejection.line())
            producer.send("deadletter", dead["topic"], dead)
            counts["deadletter"] += 1
            err.print(f"[yellow]rejected quote:[/] {rejection.line()}", highlight=False)
            return
        producer.send(topic, stream_key(event), event)
        counts[topic] += 1
        if topic == BARS_TOPIC:
            err.print(
                f"bar {event['venue']} {event['symbol']} {event['interval']} "
                f"{iso_utc(event['open_time'])} close {event['close']}",
                highlight=False,
            )

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"live feed {exchange} {', '.join(symbol)} {timeframe} - Ctrl-C to stop")
    try:
        feed.run(sink, stop, poll_interval_s=poll_interval)
    finally:
        producer.flush()
        err.print(f"published {counts[BARS_TOPIC]} bars, {sum(counts.values())} events in all")


def quote_dead_letter(quote: dict[str, Any], reason: str) -> dict[str, Any]:
    """A ``DeadLetter`` for a recorded quote the quote gate rejected before it was published:
    topic ``market.quotes:<venue:symbol>``, offset = its event time, the quote as JSON."""
    import json

    from streams.deadletter import dead_letter_record

    record = dead_letter_record(
        topic=f"market.quotes:{quote.get('venue')}:{quote.get('symbol')}",
        partition=0,
        offset=int(quote.get("ts_event") or 0),
        key=None,
        raw=json.dumps(quote, sort_keys=True, default=str).encode(),
        error=reason,
        kind="validation",
        agent="feed.live",
        ts_ms=int(quote.get("ts_ingest") or 0),
    )
    record["source"] = "feed.live"
    return record


def register_live(feed_app: typer.Typer) -> None:
    """Add ``live`` to the ``desk feed`` sub-app (``streams.cli`` owns that app)."""
    feed_app.command("live")(feed_live)
