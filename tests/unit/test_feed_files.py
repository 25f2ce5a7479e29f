"""Bar files into Bar events (real recorded data), rejects, replay pacing, and the dry-run CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from connectors.feeds.files import (
    ReadOptions,
    detect_format,
    name_identity,
    parse_when,
    read_bars,
    read_files,
    split_pair,
)
from connectors.feeds.replay import Follower, Pacer, parse_speed, reject_dead_letter, replay
from streams.avro import registry
from streams.errors import DeskError
from streams.ids import event_id
from tests.conftest import SHARED_DATA, run_desk

CRYPTO = SHARED_DATA / "crypto_1m"
ETF = SHARED_DATA / "etf_daily"
BTCUSDT = CRYPTO / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"
WIDE = ETF / "adjclose_35etf_btc_1993-01-29_2023-05-18.csv"
MIN = 60_000
DAY = 86_400_000

needs_crypto = pytest.mark.skipif(not CRYPTO.is_dir(), reason="no shared crypto_1m data")
needs_etf = pytest.mark.skipif(not ETF.is_dir(), reason="no shared etf_daily data")


def ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


@pytest.fixture(scope="module")
def crypto() -> object:
    if not CRYPTO.is_dir():
        pytest.skip("no shared crypto_1m data")
    t = time.perf_counter()
    result = read_files(sorted(CRYPTO.glob("*.csv")))
    result.seconds = time.perf_counter() - t  # type: ignore[attr-defined]
    return result


@pytest.fixture(scope="module")
def wide() -> object:
    if not WIDE.is_file():
        pytest.skip("no shared etf_daily data")
    return read_bars(WIDE)


# -- Binance.US 1-minute files ----------------------------------------------------------------


@needs_crypto
def test_binance_files_read_whole_with_identity_from_the_file_name(crypto) -> None:
    assert [f.format for f in crypto.files] == ["binance"] * 3
    assert {f.path.name.split("_")[1]: f.symbols for f in crypto.files} == {
        "BTCUSD": ("BTC/USD",),
        "BTCUSDC": ("BTC/USDC",),
        "BTCUSDT": ("BTC/USDT",),
    }
    for f in crypto.files:
        assert len(f.bars) == 30_240 and f.rejects == []
        first, last = f.bars[0], f.bars[-1]
        assert first["open_time"] == ms("2023-03-01 00:00") and first["ts_event"] == ms(
            "2023-03-01 00:01"
        )
        assert last["open_time"] == ms("2023-03-21 23:59")
        assert {b["venue"] for b in f.bars} == {"binanceus"}
        assert {b["interval"] for b in f.bars} == {"1m"}
        assert all(b["ts_event"] == b["ts_ingest"] == b["open_time"] + MIN for b in f.bars)
    b = next(f for f in crypto.files if f.path == BTCUSDT).bars[0]  # first row of the file
    assert (b["open"], b["high"], b["low"], b["close"], b["volume"]) == (
        23140.48,
        23150.77,
        23128.52,
        23142.31,
        2.131777,
    )
    assert b["source"] == "feed.replay" and b["trades"] is None and b["adj_close"] is None
    registry().encode("Bar", b)  # a valid Bar event


@needs_crypto
def test_merged_bars_are_in_event_time_then_venue_symbol_order(crypto) -> None:
    keys = [(b["ts_event"], b["venue"], b["symbol"]) for b in crypto.bars]
    assert len(keys) == 90_720 and keys == sorted(keys)
    assert [b["symbol"] for b in crypto.bars[:3]] == ["BTC/USD", "BTC/USDC", "BTC/USDT"]
    assert {s["symbol"]: s["bars"] for s in crypto.streams()} == {
        "BTC/USD": 30_240,
        "BTC/USDC": 30_240,
        "BTC/USDT": 30_240,
    }
    assert crypto.overlaps() == []
    assert crypto.seconds < 10  # ~1 s on a laptop; the bound only catches a per-row regression


@needs_crypto
def test_reading_is_deterministic_and_event_ids_are_stable() -> None:
    a, b = read_bars(BTCUSDT), read_bars(BTCUSDT)
    assert a.bars == b.bars
    first = a.bars[0]
    assert first["event_id"] == event_id("bar", "binanceus", "BTC/USDT", "1m", first["open_time"])
    assert first["event_id"] == "e74e04c1-e6f7-5afc-951b-acb89c5b516a"  # stable across releases


@needs_crypto
def test_since_until_keep_bars_by_open_time() -> None:
    opts = ReadOptions(since=parse_when("2023-03-10"), until=parse_when("2023-03-10T01:00Z"))
    bars = read_bars(BTCUSDT, opts).bars
    assert len(bars) == 60
    assert bars[0]["open_time"] == ms("2023-03-10") and bars[-1]["open_time"] == ms(
        "2023-03-10 00:59"
    )


def test_pair_and_file_name_identity() -> None:
    assert [split_pair(p) for p in ("BTCUSDT", "BTCUSD", "btcusdc", "ETHBTC", "BTC-USD")] == [
        "BTC/USDT",
        "BTC/USD",
        "BTC/USDC",
        "ETH/BTC",
        "BTC/USD",
    ]
    assert name_identity(Path("binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv")) == {
        "venue": "binanceus",
        "symbol": "BTC/USDT",
        "interval": "1m",
    }
    assert name_identity(Path("bars.csv")) == {}
    with pytest.raises(DeskError, match="pass --symbol"):
        split_pair("XYZ")


def test_file_name_without_identity_needs_the_overrides(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("open_time,open,high,low,close,volume\n2023-03-01 00:00:00+00:00,1,2,1,2,5\n")
    with pytest.raises(DeskError, match="--venue --symbol --interval"):
        read_bars(path)
    bars = read_bars(path, ReadOptions(venue="kraken", symbol="ETH/EUR", interval="1h")).bars
    assert (bars[0]["venue"], bars[0]["symbol"], bars[0]["ts_event"]) == (
        "kraken",
        "ETH/EUR",
        ms("2023-03-01 01:00"),
    )


# -- Yahoo daily files --------------------------------------------------------------------------


@needs_etf
def test_yahoo_ohlcv_files_with_adjusted_close() -> None:
    spy, qqq = (read_bars(next(ETF.glob(f"{s}_ohlcv_*.csv"))) for s in ("SPY", "QQQ"))
    for f, sym in ((spy, "SPY"), (qqq, "QQQ")):
        assert f.format == "yahoo_ohlcv" and f.rejects == []
        assert len(f.bars) == len(pd.read_csv(f.path)) == 1_113
        assert {(b["venue"], b["symbol"], b["interval"]) for b in f.bars} == {("yahoo", sym, "1d")}
        assert f.bars[0]["open_time"] == ms("2017-01-03") and f.bars[-1]["open_time"] == ms(
            "2021-06-04"
        )
        assert all(b["ts_event"] == b["open_time"] + DAY for b in f.bars)
    b = spy.bars[0]
    assert (b["open"], b["close"], b["adj_close"], b["volume"]) == (
        225.039993,
        225.240005,
        208.213501,
        91_366_500.0,
    )


def test_yahoo_ohlcv_empty_adj_close_is_none(tmp_path: Path) -> None:
    path = tmp_path / "ABC_ohlcv.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2020-01-02,10,11,9,10.5,,100\n2020-01-03,10,11,9,10.5,10.1,100\n"
    )
    bars = read_bars(path).bars
    assert [b["adj_close"] for b in bars] == [None, 10.1]
    assert bars[0]["symbol"] == "ABC"


@needs_etf
def test_wide_file_one_close_only_stream_per_column_and_no_bar_before_listing(wide) -> None:
    assert wide.format == "yahoo_wide" and wide.rejects == []
    frame = pd.read_csv(WIDE)
    assert len(wide.symbols) == 35 and "BTC-USD" in wide.symbols
    assert len(wide.bars) == int(frame.drop(columns="Date").notna().sum().sum())
    bil = [b for b in wide.bars if b["symbol"] == "BIL"]
    spy = [b for b in wide.bars if b["symbol"] == "SPY"]
    assert bil[0]["open_time"] == ms("2007-05-30") and len(bil) == frame["BIL"].notna().sum()
    assert not any(b["open_time"] < ms("2007-05-30") for b in bil)
    assert spy[0]["open_time"] == ms("1993-01-29")
    for b in bil[:50] + spy[-50:]:
        assert b["open"] == b["high"] == b["low"] == b["close"] == b["adj_close"]
        assert b["volume"] == 0.0 and b["quality_flags"] == ["close_only"]
        assert (b["venue"], b["interval"]) == ("yahoo", "1d")
    keys = [(b["ts_event"], b["venue"], b["symbol"]) for b in wide.bars]
    assert keys == sorted(keys)


@needs_etf
def test_wide_file_symbols_subset() -> None:
    result = read_files([WIDE], ReadOptions(symbols=("SPY", "QQQ")))
    assert {b["symbol"] for b in result.bars} == {"SPY", "QQQ"}
    with pytest.raises(DeskError, match="--symbols NOPE: in none of the files"):
        read_files([WIDE], ReadOptions(symbols=("SPY", "NOPE")))


def test_wide_bad_cell_is_rejected_and_the_rest_of_the_row_still_counts(tmp_path: Path) -> None:
    path = tmp_path / "adjclose_small.csv"
    path.write_text("Date,AAA,BBB\n2020-01-02,,5\n2020-01-03,oops,6\n2020-01-06,1.5,7\n")
    f = read_bars(path)
    assert [(b["symbol"], b["open_time"]) for b in f.bars] == [
        ("BBB", ms("2020-01-02")),
        ("BBB", ms("2020-01-03")),
        ("AAA", ms("2020-01-06")),
        ("BBB", ms("2020-01-06")),
    ]
    assert [(r.line, r.reason, r.raw) for r in f.rejects] == [
        (3, "AAA: not a number 'oops'", "2020-01-03,oops,6")
    ]


# -- the generic format, CSV and Parquet ----------------------------------------------------


def _generic_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "venue": ["kraken", "kraken", "coinbase", "kraken"],
            "symbol": ["ETH/EUR", "ETH/EUR", "BTC/USD", "ETH/EUR"],
            "interval": ["1m", "1m", "5m", "1m"],
            # what `desk data fetch` writes, an offset other than UTC, Z, and epoch ms
            "open_time": [
                "2023-03-01T00:01:00+00:00",
                "2023-03-01T01:00:00+01:00",
                "2023-03-01T00:00:00Z",
                "1677628920000",
            ],
            "open": [1.0, 2.0, 3.0, 4.0],
            "high": [1.5, 2.5, 3.5, 4.5],
            "low": [0.5, 1.5, 2.5, 3.5],
            "close": [1.2, 2.2, 3.2, 4.2],
            "volume": [10.0, 20.0, 30.0, 40.0],
            "trades": [7, 8, None, 9],
            "adj_close": [None, None, 3.1, None],
        }
    )


def test_generic_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    frame = _generic_frame()
    frame.astype({"trades": "Int64"}).to_csv(tmp_path / "g.csv", index=False)
    frame.to_parquet(tmp_path / "g.parquet", index=False)
    csv_bars, pq_bars = read_bars(tmp_path / "g.csv"), read_bars(tmp_path / "g.parquet")
    assert csv_bars.format == pq_bars.format == "generic"
    assert csv_bars.rejects == pq_bars.rejects == []
    assert csv_bars.bars == pq_bars.bars
    got = [
        (b["venue"], b["symbol"], b["open_time"], b["ts_event"], b["close"], b["trades"])
        for b in csv_bars.bars
    ]
    t0 = ms("2023-03-01 00:00")
    assert got == [
        ("kraken", "ETH/EUR", t0, t0 + MIN, 2.2, 8),
        ("kraken", "ETH/EUR", t0 + MIN, t0 + 2 * MIN, 1.2, 7),
        ("kraken", "ETH/EUR", t0 + 2 * MIN, t0 + 3 * MIN, 4.2, 9),
        ("coinbase", "BTC/USD", t0, t0 + 5 * MIN, 3.2, None),
    ]
    assert [b["adj_close"] for b in csv_bars.bars] == [None, None, None, 3.1]


def test_generic_parquet_typed_time_columns(tmp_path: Path) -> None:
    frame = _generic_frame().iloc[:1].drop(columns=["trades", "adj_close"])
    frame["open_time"] = pd.to_datetime(frame["open_time"], utc=True)
    frame.to_parquet(tmp_path / "ts.parquet", index=False)
    frame.assign(open_time=[ms("2023-03-01 00:01")]).to_parquet(tmp_path / "ms.parquet")
    a, b = read_bars(tmp_path / "ts.parquet"), read_bars(tmp_path / "ms.parquet")
    assert a.bars == b.bars and a.bars[0]["open_time"] == ms("2023-03-01 00:01")


def test_generic_rejects_naive_times_unknown_intervals_and_missing_identity(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text(
        "venue,symbol,interval,open_time,open,high,low,close,volume\n"
        "v,A/B,1m,2023-03-01T00:00:00Z,1,2,0.5,1.5,3\n"
        "v,A/B,1m,2023-03-01T00:01:00,1,2,0.5,1.5,3\n"
        "v,A/B,7m,2023-03-01T00:02:00Z,1,2,0.5,1.5,3\n"
        ",A/B,1m,2023-03-01T00:03:00Z,1,2,0.5,1.5,3\n"
        'v,"A/\nB",1m,2023-03-01T00:04:00Z,x,2,0.5,1.5,3\n'
        "v,A/B,1m,2023-03-01T00:05:00Z,1,2,0.5,1.5,3\n"
    )
    f = read_bars(path)
    assert [b["open_time"] for b in f.bars] == [ms("2023-03-01 00:00"), ms("2023-03-01 00:05")]
    assert [(r.line, r.reason) for r in f.rejects] == [
        (3, "open_time: no UTC offset '2023-03-01T00:01:00'"),
        (4, "interval: unknown (known: 1m, 5m, 1h, 1d) '7m'"),
        (5, "venue: missing"),
        (6, "open: not a number 'x'"),  # the quoted newline keeps later line numbers right
    ]
    assert f.rejects[3].raw == 'v,"A/\nB",1m,2023-03-01T00:04:00Z,x,2,0.5,1.5,3'


# -- bad rows and bad files -----------------------------------------------------------------


@needs_crypto
def test_bad_rows_become_rejects_with_line_numbers_and_good_rows_come_through(
    tmp_path: Path,
) -> None:
    lines = BTCUSDT.read_text().splitlines()[:21]  # header + 20 real rows
    lines[3] = ",".join([lines[3].split(",")[0], "n/a?", *lines[3].split(",")[2:]])  # line 4
    lines[6] = "2023-03-01 25:61:00+00:00" + lines[6][25:]  # impossible time (line 7)
    lines[9] = lines[9].rsplit(",", 2)[0]  # two fields short (line 10)
    lines[12] = "2023-03-01 00:11:00+00:00,23100,23000,23200,-1,0"  # parses: high<low, close<0
    lines[14] = "2023-03-01 00:13:00+00:00,,23150,23100,23120,nan"  # empty price, NaN volume
    path = tmp_path / "binanceus_BTCUSDT_1m_bad.csv"
    path.write_text("\n".join(lines) + "\n\n")  # a trailing blank line is not a row
    f = read_bars(path)
    assert [(r.line, r.reason) for r in f.rejects] == [
        (4, "open: not a number 'n/a?'"),
        (7, "open_time: not a timestamp '2023-03-01 25:61:00+00:00'"),
        (10, "4 fields, the header has 6"),
    ]
    assert [r.raw for r in f.rejects] == [lines[3], lines[6], lines[9]]
    assert all(r.file == str(path) for r in f.rejects)
    assert len(f.bars) == 17
    by_min = {(b["open_time"] - ms("2023-03-01")) // MIN: b for b in f.bars}
    assert sorted(by_min) == [m for m in range(20) if m not in (2, 5, 8)]
    assert (by_min[11]["high"], by_min[11]["low"], by_min[11]["close"]) == (23000, 23200, -1)
    assert by_min[13]["open"] != by_min[13]["open"] and by_min[13]["volume"] != by_min[13]["volume"]
    dead = reject_dead_letter(f.rejects[0])
    assert dead["topic"] == "file:binanceus_BTCUSDT_1m_bad.csv" and dead["offset"] == 4
    assert dead["raw"] == lines[3].encode() and dead["ts_event"] == ms("2023-03-01 00:03")
    registry().encode("DeadLetter", dead)
    assert read_bars(path).rejects == f.rejects  # deterministic, dead-letter times included


def test_unknown_header_is_a_one_line_error_naming_file_and_formats(tmp_path: Path) -> None:
    path = tmp_path / "weird.csv"
    path.write_text("when,price\n2023-03-01,1\n")
    with pytest.raises(DeskError) as exc:
        read_bars(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    assert "open_time,open,high,low,close,volume" in msg and "Date,Open,High,Low" in msg
    with pytest.raises(DeskError, match="missing: open_time"):
        read_bars(path, ReadOptions(fmt="binance"))


def test_format_detection_from_headers() -> None:
    p = Path("f.csv")
    assert detect_format(p, ["open_time", "open", "high", "low", "close", "volume"]) == "binance"
    assert detect_format(p, ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]) == (
        "yahoo_ohlcv"
    )
    assert detect_format(p, ["Date", "SPY", "BTC-USD"]) == "yahoo_wide"
    generic = ["venue", "symbol", "interval", "open_time", "open", "high", "low", "close", "volume"]
    assert detect_format(p, [*generic, "trades"]) == "generic"


# -- replay pacing --------------------------------------------------------------------------


class FakeClock:
    """A clock that only moves when the replay sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(round(s, 9))
        self.now += s


class Recorder:
    """A sink that keeps what it was sent (stands in for the broker in pacing tests)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []
        self.flushed = 0

    def send(self, topic: str, key: str, event: dict) -> None:
        self.sent.append((topic, key, event))

    def flush(self, timeout_s: float = 30.0) -> None:
        self.flushed += 1


def _minute_bars(n: int) -> list[dict]:
    return [{"ts_event": 60_000 * (k + 1), "venue": "v", "symbol": "S"} for k in range(n)]


def test_speed_parsing() -> None:
    assert parse_speed("asap") is None and parse_speed("realtime") == 1.0
    assert parse_speed("x10") == 10.0 and parse_speed("X60") == 60.0 and parse_speed("0.5") == 0.5
    for bad in ("fast", "x0", "x-1", ""):
        with pytest.raises(DeskError):
            parse_speed(bad)


@pytest.mark.parametrize(("speed", "gap_s"), [("realtime", 60.0), ("x60", 1.0), ("x600", 0.1)])
def test_paced_replay_sleeps_by_event_time(speed: str, gap_s: float) -> None:
    fake, sink = FakeClock(), Recorder()
    stats = replay(_minute_bars(5), [], sink, parse_speed(speed), fake.clock, fake.sleep)
    assert fake.sleeps == [gap_s] * 4 and stats.slept == pytest.approx(4 * gap_s)
    assert [k for _t, k, _e in sink.sent] == ["v:S"] * 5 and sink.flushed == 1


def test_pacer_catches_up_when_sending_was_slow() -> None:
    fake = FakeClock()
    pacer = Pacer(1.0, fake.clock, fake.sleep)
    pacer.wait(0)
    fake.now += 90  # sending took longer than the 60 s gap
    assert pacer.wait(60_000) == 0.0 and fake.sleeps == []
    assert pacer.wait(120_000) == pytest.approx(30.0)


def test_asap_never_sleeps_and_rejects_go_first_to_deadletter(tmp_path: Path) -> None:
    fake, sink = FakeClock(), Recorder()
    path = tmp_path / "g.csv"
    path.write_text(
        "venue,symbol,interval,open_time,open,high,low,close,volume\n"
        "v,S,1m,1677628800000,1,1,1,1,1\nv,S,1m,later,1,1,1,1,1\n"
    )
    f = read_bars(path)
    progress: list[tuple[int, int]] = []
    replay(
        _minute_bars(3),
        f.rejects,
        sink,
        None,
        fake.clock,
        fake.sleep,
        lambda d, t: progress.append((d, t)),
    )
    assert fake.sleeps == []
    assert [(t, k) for t, k, _e in sink.sent] == [("deadletter", "file:g.csv")] + [
        ("market.bars", "v:S")
    ] * 3
    dead = sink.sent[0][2]
    assert dead["error"] == "line 3: open_time: not a timestamp 'later'"
    assert dead["raw"] == b"v,S,1m,later,1,1,1,1,1" and dead["ts_event"] == ms("2023-03-01 00:01")
    assert progress[-1] == (4, 4)


# -- the CLI, dry run -----------------------------------------------------------------------


@needs_crypto
def test_cli_dry_run_json_summary(tmp_path: Path) -> None:
    bad = tmp_path / "binanceus_BTCUSDT_1m_bad.csv"
    bad.write_text(
        "open_time,open,high,low,close,volume\n"
        "2023-03-01 00:00:00+00:00,1,2,0.5,1.5,3\n2023-03-01 00:01:00+00:00,x,2,0.5,1.5,3\n"
    )
    res = run_desk(
        "feed", "replay", str(CRYPTO), str(bad), "--dry-run", "--json",
        "--since", "2023-03-01", "--until", "2023-03-02",
        env={"DESK_DATA_DIR": str(tmp_path / "desk")},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["dry_run"] is True and summary["bars"] == 3 * 1440 + 1
    assert summary["rejects"] == 1 and summary["reject_samples"][0]["line"] == 3
    assert summary["overlapping_streams"] == ["binanceus:BTC/USDT:1m"]
    usdt = next(s for s in summary["streams"] if s["stream"] == "binanceus:BTC/USDT")
    assert usdt["bars"] == 1441 and usdt["first"] == "2023-03-01T00:01:00Z"
    assert len(summary["files"]) == 4 and summary["bars_per_second"] > 0


def test_cli_bad_header_is_one_line_and_nonzero(tmp_path: Path) -> None:
    path = tmp_path / "weird.csv"
    path.write_text("when,price\n2023-03-01,1\n")
    res = run_desk("feed", "replay", str(path), "--dry-run", env={"DESK_DATA_DIR": str(tmp_path)})
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error:") and "matches no bar file format" in res.stderr
    assert "Traceback" not in res.stderr


def test_reads_what_desk_data_fetch_writes(tmp_path: Path) -> None:
    from connectors.feeds.ohlcv_out import ohlcv_frame, write_ohlcv

    t0 = ms("2023-03-01")
    rows = [[t0 + k * MIN, 100 + k, 101 + k, 99 + k, 100.5 + k, 2.0] for k in range(3)]
    frame = ohlcv_frame("binanceus", "BTC/USDT", "1m", rows)
    for name in ("fetched.csv", "fetched.parquet"):
        f = read_bars(write_ohlcv(frame, tmp_path / name))
        assert f.format == "generic" and f.rejects == []
        assert [(b["open_time"], b["close"]) for b in f.bars] == [(r[0], r[4]) for r in rows]
        assert f.bars[0]["event_id"] == event_id("bar", "binanceus", "BTC/USDT", "1m", t0)


class SlowDesk:
    """A desk that takes ``rate`` bars a second of the clock, of what reached it (flushed)."""

    def __init__(self, fake: FakeClock, sink: Recorder, rate: float) -> None:
        self.fake, self.sink, self.rate = fake, sink, rate
        self.taken, self.last = 0.0, fake.now
        self.flushed_at = 0

    def committed(self) -> int:
        if self.sink.flushed:
            self.flushed_at = len(self.sink.sent)
        self.taken = min(self.flushed_at, self.taken + (self.fake.now - self.last) * self.rate)
        self.last = self.fake.now
        return int(self.taken)


def test_follow_holds_the_feed_within_its_lead_of_the_desk() -> None:
    fake, sink = FakeClock(), Recorder()
    desk = SlowDesk(fake, sink, rate=100.0)
    follow = Follower(desk.committed, lead=50, poll_s=0.2, clock=fake.clock, sleep=fake.sleep)
    ahead: list[int] = []

    class Watched(Recorder):
        def send(self, topic: str, key: str, event: dict) -> None:
            ahead.append(len(sink.sent) - desk.committed())
            sink.send(topic, key, event)

        def flush(self, timeout_s: float = 30.0) -> None:
            sink.flush()

    stats = replay(_minute_bars(1000), [], Watched(), follow=follow)
    assert len(sink.sent) == 1000 and max(ahead) <= 50  # never more than the lead ahead
    assert sink.flushed >= 2  # what was sent is flushed before each wait
    # as fast as the desk: 1,000 bars at 100 a second, less the lead it may run ahead
    assert 9.0 <= fake.now - 1000.0 <= 10.5 and stats.slept == pytest.approx(fake.now - 1000.0)


def test_follow_says_so_when_the_desk_takes_nothing() -> None:
    fake, sink = FakeClock(), Recorder()
    follow = Follower(lambda: 3, lead=10, stall_s=30, clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(DeskError, match=r"took no bar for 30 s \(3 of 13 sent\): is it up"):
        replay(_minute_bars(100), [], sink, follow=follow)
    assert len(sink.sent) == 13 and sink.flushed == 2  # flushed at each wait: it is on the broker
    with pytest.raises(DeskError, match="at least one bar"):
        Follower(lambda: 0, lead=0)
