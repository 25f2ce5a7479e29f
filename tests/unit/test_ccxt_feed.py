"""The ccxt live feed and ``desk data fetch``, offline, through a real ccxt exchange.

Nothing of ccxt or of our code is mocked: a ``requests`` transport adapter is
mounted on the real ``ccxt.binanceus`` object's session and answers its HTTP
requests from raw Binance.US REST payloads (tests/fixtures/exchange/binanceus,
kline values from the recorded bars in ../shared/data). ccxt's own request
building, rate limiter, HTTP-status/error mapping and parsers all run.
"""

from __future__ import annotations

import csv
import json
import random
import threading
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import ccxt
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from connectors.feeds.backoff import BackoffPolicy, FeedError, FeedUnavailable, Retrier
from connectors.feeds.ccxt_feed import (
    BARS_TOPIC,
    QUOTES_TOPIC,
    LiveFeed,
    fetch_history,
    make_exchange,
)
from connectors.feeds.ohlcv_out import COLUMNS
from streams.avro import registry
from streams.cli.exchange import data_app
from streams.errors import DeskError
from streams.ids import event_id
from streams.topics import spec, stream_key
from tests.conftest import SHARED_DATA, run_desk
from tests.exchange_transport import BinanceUS, binanceus, fixture, ok

MIN = 60_000
T0 = 1_677_628_800_000  # 2023-03-01T00:00:00Z, the first fixture bar
REAL_CSV = SHARED_DATA / "crypto_1m" / "binanceus_{}_1m_2023-03-01_2023-03-21.csv"


class Clock:
    """A settable ms clock (the feed's injected wall clock)."""

    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


class Sleeps(list[float]):
    def __call__(self, s: float) -> None:
        self.append(s)


def retrier(ex: ccxt.Exchange, seed: int = 7, **policy: Any) -> tuple[Retrier, Sleeps]:
    sleeps = Sleeps()
    pol = BackoffPolicy(**({"base_s": 1.0, "cap_s": 4.0, "max_attempts": 6} | policy))
    return Retrier(ex, pol, random.Random(seed), sleeps), sleeps


def real_bars(pair: str) -> list[dict[str, Any]]:
    path = Path(str(REAL_CSV).format(pair))
    if not path.exists():
        pytest.skip(f"shared recorded data not present: {path}")
    with path.open() as f:
        rows = [r for _, r in zip(range(45), csv.DictReader(f), strict=False)]
    return [
        {
            "open_time": int(datetime.fromisoformat(r["open_time"]).timestamp() * 1000),
            **{k: float(r[k]) for k in ("open", "high", "low", "close", "volume")},
        }
        for r in rows
    ]


def encodes(topic_schema: str, event: dict[str, Any]) -> dict[str, Any]:
    """Encode with the desk's Avro registry and decode back (validates the event)."""
    reg = registry()
    name, decoded = reg.decode(reg.encode(topic_schema, event))
    assert name == topic_schema
    return decoded


def feed(server: BinanceUS, symbols: list[str], clock: Clock, **kw: Any) -> LiveFeed:
    ex = binanceus(server)
    r, _ = retrier(ex)
    kw = {"settle_ms": 0, "quotes": False, "clock": clock, "retrier": r} | kw
    return LiveFeed(ex, symbols, "1m", **kw)


# -- bars -----------------------------------------------------------------------------------


def test_bars_from_raw_klines_match_the_recorded_csv() -> None:
    clock = Clock(T0 + 45 * MIN + 30_000)  # 00:45:30: bars 00:00..00:44 have closed
    server = BinanceUS(now_ms=clock)
    f = feed(server, ["BTC/USDT", "BTC/USDC"], clock, backfill=45)
    events = f.poll_once()

    assert {t for t, _ in events} == {BARS_TOPIC}
    for pair, symbol in (("BTCUSDT", "BTC/USDT"), ("BTCUSDC", "BTC/USDC")):
        bars = [e for _, e in events if e["symbol"] == symbol]
        expected = real_bars(pair)
        assert [b["open_time"] for b in bars] == [r["open_time"] for r in expected]
        for bar, row in zip(bars, expected, strict=True):
            assert {k: bar[k] for k in row} == row
            assert bar["ts_event"] == row["open_time"] + MIN  # close time
            assert bar["ts_ingest"] == clock.t  # wall clock, live
            assert bar["source"] == "feed.ccxt.binanceus"
            assert (bar["venue"], bar["interval"]) == ("binanceus", "1m")
            assert bar["event_id"] == event_id("bar", "binanceus", symbol, "1m", row["open_time"])
            assert encodes("Bar", bar) == bar
    # ccxt asked Binance for the right window: startTime, symbol id, interval
    klines = server.paths("/api/v3/klines")
    assert [(q["symbol"], q["interval"], int(q["startTime"])) for q in klines] == [
        ("BTCUSDT", "1m", T0),
        ("BTCUSDC", "1m", T0),
    ]


def test_forming_bar_is_held_back_and_sent_final_on_the_next_poll() -> None:
    clock = Clock(T0 + 10 * MIN + 20_000)  # 00:10:20, the 00:10 bar is forming
    server = BinanceUS(now_ms=clock)
    f = feed(server, ["BTC/USDT"], clock, backfill=2)
    expected = {r["open_time"]: r for r in real_bars("BTCUSDT")}

    first = [e for _, e in f.poll_once()]
    assert [b["open_time"] for b in first] == [T0 + 8 * MIN, T0 + 9 * MIN]
    served = fixture("klines_BTCUSDT_1m_forming.json")[10]
    assert server.paths("/api/v3/klines")[-1]["startTime"] == str(T0 + 8 * MIN)

    clock.t = T0 + 10 * MIN + 50_000  # same minute: nothing can have closed, no request
    assert f.poll_once() == []
    assert len(server.paths("/api/v3/klines")) == 1

    clock.t = T0 + 11 * MIN + 5_000  # 00:11:05: the 00:10 bar has closed
    (second,) = [e for _, e in f.poll_once()]
    assert second["open_time"] == T0 + 10 * MIN
    assert second["close"] == expected[T0 + 10 * MIN]["close"]  # the final values...
    assert second["volume"] != float(served[5])  # ...not the forming snapshot's


def test_settle_time_keeps_a_just_closed_bar_back() -> None:
    clock = Clock(T0 + 11 * MIN + 1_000)  # 1 s after 00:10 closed
    f = feed(BinanceUS(now_ms=clock), ["BTC/USDT"], clock, backfill=1, settle_ms=2_000)
    assert [e["open_time"] for _, e in f.poll_once()] == [T0 + 9 * MIN]
    clock.t += 1_500
    assert [e["open_time"] for _, e in f.poll_once()] == [T0 + 10 * MIN]


def test_overlapping_responses_never_re_emit_a_bar() -> None:
    clock = Clock(T0 + 3 * MIN + 10_000)
    server = BinanceUS(now_ms=clock)
    server.klines_ignore_since = True  # like exchanges that answer "the latest N" regardless
    f = feed(server, ["BTC/USDT"], clock, backfill=3, page_limit=6)
    emitted: list[int] = []
    for _ in range(60):  # 00:03 .. 00:23 in 20 s steps, every response overlaps the last
        emitted += [e["open_time"] for _, e in f.poll_once()]
        clock.t += 20_000
    assert emitted == sorted(set(emitted))
    assert emitted == [T0 + i * MIN for i in range(0, 22)]


def test_duplicate_rows_in_one_response_are_emitted_once() -> None:
    clock = Clock(T0 + 5 * MIN + 10_000)
    server = BinanceUS(now_ms=clock)
    rows = fixture("klines_BTCUSDT_1m.json")
    server.then("/api/v3/klines", ok([rows[3], rows[2], rows[3], rows[4], rows[5]]))
    f = feed(server, ["BTC/USDT"], clock, backfill=3)
    assert [e["open_time"] for _, e in f.poll_once()] == [T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN]


# -- errors, backoff, rate limit ------------------------------------------------------------


def test_429_then_503s_then_success_backs_off_with_growing_capped_delays() -> None:
    clock = Clock(T0 + 5 * MIN + 10_000)
    server = BinanceUS(now_ms=clock)
    ex = binanceus(server)
    r, sleeps = retrier(ex, seed=11, base_s=1.0, cap_s=4.0, max_attempts=6)
    f = LiveFeed(ex, ["BTC/USDT"], quotes=False, settle_ms=0, clock=clock, retrier=r)
    server.then("/api/v3/klines", "error_429.json", "error_503.json", "error_503.json")
    server.then("/api/v3/klines", "error_503.json")

    bars = [e for _, e in f.poll_once()]

    assert [b["open_time"] for b in bars] == [T0 + 4 * MIN]
    assert len(server.paths("/api/v3/klines")) == 5  # 4 failures + the good one
    # ccxt's own mapping: Binance 429 -> DDoSProtection, gateway 503 -> ExchangeNotAvailable
    assert [name for name, _ in r.retries] == ["DDoSProtection"] + ["ExchangeNotAvailable"] * 3
    rng = random.Random(11)
    want = [min(4.0, 2.0**n) * (1 - 0.5 * rng.random()) for n in range(4)]
    want[0] = max(want[0], 1.0)  # the 429 said Retry-After: 1
    assert sleeps == pytest.approx(want)
    assert sleeps[0] <= sleeps[1] <= sleeps[2]  # grows...
    assert all(s <= 4.0 for s in sleeps) and sleeps[3] >= 2.0  # ...up to the cap


def test_transient_errors_past_the_budget_skip_the_symbol_for_this_round() -> None:
    clock = Clock(T0 + 5 * MIN + 10_000)
    server = BinanceUS(now_ms=clock)
    warnings: list[str] = []
    f = feed(server, ["BTC/USDT", "BTC/USDC"], clock, warn=warnings.append)
    f.retrier = retrier(f.exchange, max_attempts=3)[0]
    server.then("/api/v3/klines", *["error_503.json"] * 3)

    events = f.poll_once()

    assert [e["symbol"] for _, e in events] == ["BTC/USDC"]  # the other symbol still flows
    (w,) = warnings
    assert "binanceus BTC/USDT: fetch_ohlcv still failing after 3 attempts" in w
    assert "\n" not in w
    # the next round picks the skipped bar up
    assert [e["symbol"] for _, e in f.poll_once()] == ["BTC/USDT"]


def test_a_long_retry_after_gives_up_instead_of_hanging() -> None:
    ex = binanceus(server := BinanceUS())
    r, sleeps = retrier(ex)
    spec = fixture("error_429.json")
    server.then("/api/v3/klines", {**spec, "headers": {**spec["headers"], "Retry-After": "3600"}})
    with pytest.raises(FeedUnavailable, match="asks to wait 3600 s"):
        fetch_history(ex, "BTC/USDT", "1m", T0, T0 + 5 * MIN, retrier=r)
    assert sleeps == []


def test_bad_symbol_fails_fast_with_one_line_and_no_retry() -> None:
    clock = Clock(T0 + 5 * MIN + 10_000)
    server = BinanceUS(now_ms=clock)
    f = feed(server, ["BTC/USD"], clock)  # listed, but klines answers -1121 Invalid symbol
    with pytest.raises(FeedError) as info:
        f.poll_once()
    msg = str(info.value)
    assert msg.startswith("binanceus BTC/USD: fetch_ohlcv failed (not retried): BadSymbol:")
    assert "Invalid symbol" in msg and "\n" not in msg
    assert len(server.paths("/api/v3/klines")) == 1
    assert list(f.retrier.retries) == []


def test_unknown_symbol_fails_before_any_bar_request() -> None:
    server = BinanceUS()
    f = feed(server, ["DOGE/USDT"], Clock(T0 + 5 * MIN))
    with pytest.raises(FeedError, match=r"^binanceus DOGE/USDT: unknown symbol"):
        f.poll_once()
    assert [p for p, _, _ in server.calls] == ["/api/v3/exchangeInfo"]


def test_requests_are_spaced_by_the_exchange_rate_limit() -> None:
    clock = Clock(T0 + 5 * MIN + 10_000)
    server = BinanceUS(now_ms=clock)
    f = feed(server, ["BTC/USDT", "BTC/USDC"], clock, quotes=True)
    f.exchange.enableRateLimit = False  # the feed must turn it back on
    f = LiveFeed(f.exchange, f.symbols, quotes=True, settle_ms=0, clock=clock, retrier=f.retrier)
    f.poll_once()
    times = [t for _, _, t in server.calls]
    assert len(times) == 5  # exchangeInfo, then klines + depth per symbol
    gaps = [b - a for a, b in pairwise(times)]
    # ccxt spaces requests by rateLimit (50 ms) x its weight for the endpoint being called:
    # klines 0.4 (Binance weight 2 of 6000/min) = 20 ms, depth?limit=5 1 = 50 ms
    # ccxt's throttle is a token bucket: a request the machine delayed leaves its successor
    # the tokens it waited for, so one gap may be short; the span of all of them may not
    floors = [0.020, 0.050, 0.020, 0.050]
    assert sum(gaps) >= 0.9 * sum(floors), gaps
    assert sorted(gaps)[len(gaps) // 2] >= 0.9 * 0.020, gaps  # most are spaced, not burst


# -- quotes and the loop --------------------------------------------------------------------


def test_quote_from_the_order_book_top_uses_exchange_time() -> None:
    clock = Clock(T0 + 45 * MIN)  # our clock is 1.5 s behind the exchange's
    server = BinanceUS(now_ms=lambda: clock.t + 1_500)
    f = feed(server, ["BTC/USDT"], clock, quotes=True, backfill=0)
    assert f.sync_clock() == 1_500

    (quote,) = [e for t, e in f.poll_once() if t == QUOTES_TOPIC]

    book = fixture("depth_BTCUSDT.json")
    assert server.paths("/api/v3/depth") == [{"symbol": "BTCUSDT", "limit": "5"}]
    assert (quote["bid"], quote["bid_size"]) == tuple(map(float, book["bids"][0]))
    assert (quote["ask"], quote["ask_size"]) == tuple(map(float, book["asks"][0]))
    assert quote["bid"] < quote["ask"]
    assert quote["ts_event"] == clock.t + 1_500  # depth carries no time: the exchange's now
    assert quote["ts_ingest"] == clock.t
    assert quote["event_id"] == event_id("quote", "binanceus", "BTC/USDT", clock.t + 1_500)
    assert (quote["synthetic"], quote["fill_model_bias"]) == (False, None)
    assert quote["source"] == "feed.ccxt.binanceus"
    assert encodes("Quote", quote) == quote


def test_exchange_time_decides_when_a_bar_is_closed() -> None:
    clock = Clock(T0 + 10 * MIN + 30_000)
    server = BinanceUS(now_ms=lambda: clock.t + 1_500)  # the exchange is 1.5 s ahead of us
    synced = feed(server, ["BTC/USDT"], clock, backfill=0)
    synced.sync_clock()
    local = feed(server, ["BTC/USDT"], clock, backfill=0)
    assert synced.poll_once() == local.poll_once() == []
    clock.t = T0 + 11 * MIN - 1_000  # we think it is 00:10:59, the exchange says 00:11:00.5
    assert [e["open_time"] for _, e in synced.poll_once()] == [T0 + 10 * MIN]
    assert local.poll_once() == []


def test_run_sends_bars_and_quotes_to_their_topics_until_stopped() -> None:
    clock = Clock(T0 + 3 * MIN + 5_000)
    f = feed(BinanceUS(now_ms=clock), ["BTC/USDT", "BTC/USDC"], clock, quotes=True)
    sent: list[tuple[str, str, dict[str, Any]]] = []
    stop = threading.Event()

    def sink(topic: str, event: dict[str, Any]) -> None:
        sent.append((topic, stream_key(event), event))
        clock.t += 15_000
        if len(sent) >= 12:
            stop.set()

    n = f.run(sink, stop, poll_interval_s=0)
    assert n == len(sent) >= 12
    assert {(t, k) for t, k, _ in sent} == {
        (topic, f"binanceus:{s}")
        for topic in (BARS_TOPIC, QUOTES_TOPIC)
        for s in ("BTC/USDT", "BTC/USDC")
    }
    for topic, _, event in sent:  # what EventProducer.send encodes for the topic
        encodes(spec(topic).value_schema, event)
    for s in ("BTC/USDT", "BTC/USDC"):
        opens = [e["open_time"] for t, _, e in sent if t == BARS_TOPIC and e["symbol"] == s]
        assert opens == sorted(set(opens))


# -- exchange factory -----------------------------------------------------------------------


def test_make_exchange_rate_limited_keys_only_from_env() -> None:
    ex = make_exchange("binanceus", env={})
    assert ex.enableRateLimit and not ex.apiKey
    ex = make_exchange(
        "binanceus", env={"DESK_BINANCEUS_API_KEY": "k", "DESK_BINANCEUS_SECRET": "s"}
    )
    assert (ex.apiKey, ex.secret) == ("k", "s")
    with pytest.raises(FeedError, match="unknown exchange 'nosuchx'"):
        make_exchange("nosuchx")
    clock = Clock(T0)
    with pytest.raises(FeedError, match="'15m' is not a desk bar interval"):
        LiveFeed(binanceus(BinanceUS()), ["BTC/USDT"], "15m", clock=clock).poll_once()


# -- desk data fetch ------------------------------------------------------------------------


def _fetch(server: BinanceUS, clock: Clock, *args: str) -> Any:
    """``data fetch ...`` in process, its exchange on the fixture transport."""
    cli = typer.Typer()
    cli.add_typer(data_app, name="data")
    hooks = {"exchange_factory": lambda eid: binanceus(server, make_exchange(eid)), "clock": clock}
    return CliRunner().invoke(cli, ["data", "fetch", *args], obj=hooks)


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_data_fetch_pages_through_history_into_the_generic_format(tmp_path: Path, ext: str) -> None:
    clock = Clock(T0 + 2 * 60 * MIN)
    server = BinanceUS()
    out = tmp_path / f"btc.{ext}"
    res = _fetch(
        server, clock,
        "--exchange", "binanceus", "--symbol", "BTC/USDT", "--timeframe", "1m",
        "--since", "2023-03-01", "--until", "2023-03-01T00:40", "--page-size", "15",
        "--out", str(out), "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["rows"] == 40
    assert summary["first_open_time"] == "2023-03-01T00:00:00+00:00"
    assert summary["last_open_time"] == "2023-03-01T00:39:00+00:00"
    assert summary["file"] == str(out) and summary["seconds"] >= 0
    # three pages of <= 15 bars, each starting right after the last bar received
    starts = [int(q["startTime"]) for q in server.paths("/api/v3/klines")]
    assert starts == [T0, T0 + 15 * MIN, T0 + 30 * MIN]
    assert all(q["limit"] == "15" for q in server.paths("/api/v3/klines"))

    frame = pd.read_csv(out) if ext == "csv" else pd.read_parquet(out)
    assert list(frame.columns) == COLUMNS
    assert set(frame["venue"]) == {"binanceus"} and set(frame["symbol"]) == {"BTC/USDT"}
    assert set(frame["interval"]) == {"1m"}
    assert frame["open_time"].iloc[0] == "2023-03-01T00:00:00+00:00"
    times = pd.to_datetime(frame["open_time"], utc=True)
    assert times.is_monotonic_increasing and times.is_unique
    expected = pd.DataFrame(real_bars("BTCUSDT")[:40])
    assert [int(t.timestamp() * 1000) for t in times] == expected["open_time"].tolist()
    for col in ("open", "high", "low", "close", "volume"):
        assert frame[col].tolist() == expected[col].tolist()


def test_data_fetch_writes_only_closed_bars(tmp_path: Path) -> None:
    clock = Clock(T0 + 44 * MIN + 30_000)  # 00:44 is still forming
    server = BinanceUS(now_ms=clock)
    out = tmp_path / "btc.csv"
    res = _fetch(
        server, clock, "--exchange", "binanceus", "--symbol", "BTC/USDT",
        "--since", "2023-03-01T00:30:00Z", "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out)
    assert frame["open_time"].iloc[-1] == "2023-03-01T00:43:00+00:00"
    assert len(frame) == 14


def test_data_fetch_operator_errors_are_one_line(tmp_path: Path) -> None:
    server, clock = BinanceUS(), Clock(T0 + 60 * MIN)
    base = ["--exchange", "binanceus", "--since", "2023-03-01"]
    cases = {
        ("--symbol", "BTC/USDT", "--out", str(tmp_path / "x.txt")): "use a .csv or .parquet",
        ("--symbol", "BTC/USD", "--out", str(tmp_path / "x.csv")): "BadSymbol",
        (
            "--symbol",
            "BTC/USDT",
            "--timeframe",
            "15m",
            "--out",
            str(tmp_path / "x.csv"),
        ): "not a desk bar interval",
        (
            "--symbol",
            "BTC/USDT",
            "--until",
            "yesterday",
            "--out",
            str(tmp_path / "x.csv"),
        ): "--until 'yesterday': not a date/time",
    }
    for args, expect in cases.items():
        res = _fetch(server, clock, *base, *args)
        assert isinstance(res.exception, DeskError), (args, res.output)
        assert expect in str(res.exception) and "\n" not in str(res.exception)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_desk_cli_wires_data_fetch_and_feed_live() -> None:
    from streams.cli import app as desk_app

    runner = CliRunner()
    res = runner.invoke(desk_app, ["data", "fetch", "--help"])
    assert res.exit_code == 0
    for word in ("--exchange", "--symbol", "--since", "--until", "--out", "--json", "closed"):
        assert word in res.output
    res = runner.invoke(desk_app, ["feed", "live", "--help"])
    assert res.exit_code == 0 and "market.bars" in res.output
    # the real entry point turns a DeskError into one line and exit code 2
    proc = run_desk(
        "data", "fetch", "--exchange", "binanceus", "--symbol", "BTC/USDT",
        "--since", "2023-03-01", "--out", "bars.xlsx",
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "use a .csv or .parquet" in proc.stderr
