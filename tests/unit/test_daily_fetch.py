"""Online end-of-day ingest through ccxt (issue 17, point 2): Binance.US's raw daily
klines (aggregated from the recorded 1-minute bars, tests/fixtures/exchange) go through
the real ccxt exchange's request building and parsers into an end-of-day file the daily
pipeline reads like any other; only enabled rows and benchmarks are fetched."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from analytics.daily import quality
from analytics.daily.eod import by_symbol, parse, read_raw
from analytics.daily.fetch import fetch_eod, plan
from analytics.daily.universe import Instrument
from tests.exchange_transport import BinanceUS, binanceus

UNIVERSE = [
    Instrument(symbol="SPY", benchmark=True, sources={"yahoo": "SPY"}),
    Instrument(symbol="QQQ", benchmark=True, sources={"yahoo": "QQQ"}),
    Instrument(symbol="BTC-USD", type="crypto", sources={"ccxt": "binanceus:BTC/USD"}),
    Instrument(symbol="BTC-USDT", type="crypto", enabled=False,
               sources={"ccxt": "binanceus:BTC/USDT"}),
]  # fmt: skip


def fetch(tmp_path: Path, universe: list[Instrument] = UNIVERSE, days: int = 10):
    server = BinanceUS()
    ex = binanceus(server)
    done, offline = fetch_eod(universe, dt.date(2023, 3, 20), days, tmp_path, lambda _id: ex)
    return server, done, offline


def test_daily_bars_come_through_ccxt_as_an_end_of_day_file(tmp_path: Path) -> None:
    server, done, offline = fetch(tmp_path / "a")
    assert offline == ["SPY", "QQQ"]  # no ccxt source: from files only
    [got] = done
    assert (got.symbol, got.rows, got.first, got.last, got.error) == (
        "BTC-USD", 10, "2023-03-11", "2023-03-20", None)  # fmt: skip
    # the disabled BTC-USDT row was never asked for
    assert {q.get("symbol") for q in server.paths("/api/v3/klines")} == {"BTCUSD"}
    rows = parse(read_raw(got.path))
    assert [r.day for r in rows] == [dt.date(2023, 3, 11) + dt.timedelta(d) for d in range(10)]
    # 2023-03-13, the de-peg Monday: the close of its recorded 23:59 minute bar
    mar13 = next(r for r in rows if r.day == dt.date(2023, 3, 13))
    assert mar13.adj_close == mar13.close == Decimal("24175.17")
    # a weekend day is a session of BTC's 24/7 calendar: the gate passes over it
    q = quality.check(by_symbol(rows), [("BTC-USD", "24/7")], dt.date(2023, 3, 19), 5, 3,
                      desk_calendar="24/7")  # fmt: skip
    assert q.status == "PASS", q.failures
    _server, again, _ = fetch(tmp_path / "b")  # the same history: the same bytes
    assert again[0].path.read_bytes() == got.path.read_bytes()


def test_a_symbol_the_exchange_does_not_list_fails_alone(tmp_path: Path) -> None:
    bad = Instrument(symbol="ETH-USD", type="crypto", sources={"ccxt": "binanceus:ETH/USD"})
    _server, done, _offline = fetch(tmp_path, [*UNIVERSE, bad], days=3)
    by = {f.symbol: f for f in done}
    assert by["BTC-USD"].rows == 3 and by["BTC-USD"].error is None
    assert by["ETH-USD"].path is None and "ETH/USD" in (by["ETH-USD"].error or "")


def test_only_needed_rows_with_a_ccxt_source_are_planned() -> None:
    online, offline = plan(UNIVERSE)
    assert [(i.symbol, ex, s) for i, ex, s in online] == [("BTC-USD", "binanceus", "BTC/USD")]
    assert offline == ["SPY", "QQQ"]
