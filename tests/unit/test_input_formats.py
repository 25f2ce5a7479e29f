"""Input formats without surprises: headerless exports, column maps, time units, identity options,
the parsed summary first, and streams outside the universe refused (issue 13, point 3).

The sparse venue file is built here from a shared one: minutes without volume dropped (as a
venue that omits minutes without trades exports them), open times in epoch seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from connectors.feeds.files import ReadOptions, parse_when, read_bars
from connectors.feeds.tabular import Layout
from streams.errors import DeskError
from tests.conftest import SHARED_DATA, run_desk

SOURCE = SHARED_DATA / "crypto_1m" / "binanceus_BTCUSD_1m_2023-03-01_2023-03-21.csv"
COLUMNS = "open_time,open,high,low,close,volume"
IDENTITY = {"venue": "kraken", "symbol": "BTC/USD", "interval": "1m"}
T0 = 1_677_628_800_000  # 2023-03-01T00:00Z

needs_source = pytest.mark.skipif(not SOURCE.is_file(), reason="no shared crypto_1m data")


@pytest.fixture
def sparse(tmp_path: Path) -> dict[str, object]:
    """The shared BTC/USD minutes without the zero-volume ones, in epoch seconds, with and
    without a header; and the open times (ms) and closes an independent read expects."""
    frame = pd.read_csv(SOURCE)
    frame = frame[frame["volume"] > 0].copy()
    opened = pd.to_datetime(frame["open_time"], utc=True)
    frame["open_time"] = (opened - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    out = frame[COLUMNS.split(",")]
    bare, headed = tmp_path / "export.csv", tmp_path / "export_with_header.csv"
    out.to_csv(bare, index=False, header=False)
    out.to_csv(headed, index=False)
    return {
        "bare": bare,
        "headed": headed,
        "open_ms": [int(s) * 1000 for s in out["open_time"]],
        "close": out["close"].tolist(),
        "dropped": 30_240 - len(out),
    }


def _opts(**kw: object) -> ReadOptions:
    return ReadOptions(**(IDENTITY | kw))  # type: ignore[arg-type]


@needs_source
@pytest.mark.parametrize("unit", ["s", None])
def test_headerless_sparse_epoch_seconds_read_right(sparse: dict, unit: str | None) -> None:
    assert sparse["dropped"] > 0  # the copy is sparse indeed
    f = read_bars(sparse["bare"], _opts(time_unit=unit, layout=Layout.parse(True, COLUMNS)))
    assert f.time_unit == "s" and f.rejects == [] and f.rows == len(sparse["open_ms"])
    assert [b["open_time"] for b in f.bars] == sparse["open_ms"]
    assert [b["close"] for b in f.bars] == sparse["close"]
    assert f.bars[0]["open_time"] == T0 and f.bars[0]["ts_event"] == T0 + 60_000
    assert {(b["venue"], b["symbol"], b["interval"]) for b in f.bars} == {
        ("kraken", "BTC/USD", "1m")
    }


@needs_source
def test_header_with_epoch_seconds_is_not_read_as_1970(sparse: dict) -> None:
    f = read_bars(sparse["headed"], _opts())
    assert f.time_unit == "s" and [b["open_time"] for b in f.bars] == sparse["open_ms"]
    since = _opts(since=parse_when("2023-03-01"), until=parse_when("2023-03-02"))
    assert len(read_bars(sparse["headed"], since).bars) == sum(
        T0 <= t < T0 + 86_400_000 for t in sparse["open_ms"]
    )
    with pytest.raises(DeskError) as exc:  # told the wrong unit: refused, not misread
        read_bars(sparse["headed"], _opts(time_unit="ms"))
    msg = str(exc.value)
    assert str(sparse["headed"]) in msg and "1970-01-20" in msg and "--time-unit s" in msg


@needs_source
def test_headerless_file_without_options_says_how(sparse: dict) -> None:
    with pytest.raises(DeskError, match=r"line 1 is data, not a header.*--no-header --columns"):
        read_bars(sparse["bare"], _opts())
    with pytest.raises(DeskError, match="--no-header needs --columns"):
        Layout.parse(True, None)
    with pytest.raises(DeskError, match="line 1 looks like a header"):
        read_bars(sparse["headed"], _opts(layout=Layout.parse(True, COLUMNS)))


def test_binance_microsecond_klines_headerless_with_trailing_columns_unread(tmp_path: Path) -> None:
    """Binance's spot klines: 12 columns, open times in µs since 2025."""
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    us = 1_735_689_600_000_000  # 2025-01-01T00:00Z
    path.write_text(
        "".join(
            f"{us + k * 60_000_000},100,101,99,100.5,2,{us + (k + 1) * 60_000_000 - 1},"
            f"200,7,1,100,0\n"
            for k in range(3)
        )
    )
    opts = ReadOptions(
        venue="binance", symbol="BTC/USDT", interval="1m",
        layout=Layout.parse(True, f"{COLUMNS},,,trades"),
    )  # fmt: skip
    f = read_bars(path, opts)
    assert f.time_unit == "us" and f.rejects == []
    assert [(b["open_time"], b["trades"]) for b in f.bars] == [
        (1_735_689_600_000 + k * 60_000, 7) for k in range(3)
    ]


def test_columns_rename_a_header_by_position_or_by_name(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("ts,o,h,l,c,v,note\n1677628800000,1,2,0.5,1.5,3,hi\n")
    by_position = read_bars(path, _opts(layout=Layout.parse(False, COLUMNS)))
    by_name = read_bars(
        path, _opts(layout=Layout.parse(False, "ts=open_time,o=open,h=high,l=low,c=close,v=volume"))
    )
    assert by_position.bars == by_name.bars and by_name.bars[0]["open_time"] == T0
    assert by_name.time_unit == "ms"
    with pytest.raises(DeskError, match="no column 'when'"):
        read_bars(path, _opts(layout=Layout.parse(False, "when=open_time")))
    with pytest.raises(DeskError, match="unknown column name 'price'"):
        Layout.parse(True, "open_time,price")


def test_identity_options_fill_in_what_the_file_lacks_and_clash_with_what_it_says(
    tmp_path: Path,
) -> None:
    path = tmp_path / "g.csv"
    path.write_text(
        "venue,open_time,open,high,low,close,volume\n"
        "kraken,2023-03-01T00:00:00Z,1,2,0.5,1.5,3\n"
        ",2023-03-01T00:01:00Z,1,2,0.5,1.5,3\n"
    )
    f = read_bars(path, ReadOptions(symbol="BTC/USD", interval="1m"))  # no symbol/interval columns
    assert f.format == "generic" and [r.reason for r in f.rejects] == ["venue: missing"]
    f = read_bars(path, ReadOptions(venue="kraken", symbol="BTC/USD", interval="1m"))
    assert [b["venue"] for b in f.bars] == ["kraken", "kraken"] and f.rejects == []  # filled
    with pytest.raises(DeskError, match="--venue coinbase but line 2 says venue 'kraken'"):
        read_bars(path, ReadOptions(venue="coinbase", symbol="BTC/USD", interval="1m"))
    with pytest.raises(DeskError, match=r"cannot tell the symbol/interval.*--symbol --interval"):
        read_bars(path)
    with pytest.raises(DeskError, match="unknown bar interval '7m'"):
        read_bars(path, ReadOptions(symbol="BTC/USD", interval="7m"))


def test_mixed_units_in_a_file_are_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "binanceus_BTCUSD_1m_mixed.csv"
    path.write_text(f"{COLUMNS}\n1677628800,1,2,0.5,1.5,3\n1677628860000,1,2,0.5,1.5,3\n")
    with pytest.raises(DeskError) as exc:
        read_bars(path)
    assert str(exc.value).startswith(f"{path}: open_time: mixed time units: line 2")
    odd = tmp_path / "binanceus_BTCUSD_1m_odd.csv"  # one implausible row: a reject, not a misread
    odd.write_text(
        f"{COLUMNS}\n1677628800,1,2,0.5,1.5,3\n1677628860,1,2,0.5,1.5,3\n42,1,2,0.5,1,3\n"
    )
    f = read_bars(odd)
    assert [(r.line, r.reason) for r in f.rejects] == [
        (4, "open_time: not a plausible time in epoch seconds '42'")
    ]
    assert len(f.bars) == 2


def test_operator_times_in_any_epoch_unit() -> None:
    assert parse_when("1677628800") == parse_when("1677628800000") == T0
    assert parse_when("1677628800000000") == parse_when("2023-03-01") == T0
    with pytest.raises(DeskError, match="not a plausible epoch time"):
        parse_when("60000")


# -- the CLI: parsed summary first, the universe, overlays ---------------------------------


OVERLAY = """\
extends: default
universe:
  - {venue: kraken, symbol: BTC/USD, quote_currency: USD}
data_quality:
  cross_market:
    - name: BTC
      members: [kraken:BTC/USD]
"""


@needs_source
def test_cli_dry_run_headerless_with_an_overlay(sparse: dict, tmp_path: Path) -> None:
    env = {"DESK_DATA_DIR": str(tmp_path / "desk")}
    args = ["feed", "replay", str(sparse["bare"]), "--dry-run", "--no-header", "--columns",
            COLUMNS, "--venue", "kraken", "--symbol", "BTC/USD", "--interval", "1m"]  # fmt: skip
    res = run_desk(*args, env=env)
    assert res.returncode == 2 and res.stdout == ""
    *parsed, error = res.stderr.strip().splitlines()
    assert parsed[0].startswith(f"read {sparse['bare']}: binance, {len(sparse['open_ms']):,} rows")
    assert "epoch seconds (told from the magnitude)" in parsed[0]
    assert parsed[1].strip() == (
        f"kraken:BTC/USD 1m: {len(sparse['open_ms']):,} bars, "
        "open 2023-03-01T00:00:00Z .. 2023-03-21T23:59:00Z"
    )
    assert error.startswith("error: kraken:BTC/USD: not in the desk config's universe")
    assert "`universe`" in error and "data_quality.extra_streams" in error and "extends" in error

    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(OVERLAY)
    res = run_desk(*args, "--time-unit", "s", "--config", str(overlay), "--json", env=env)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["config"] == str(overlay) and summary["bars"] == len(sparse["open_ms"])
    assert summary["files"][0] | {"path": None} == {
        "path": None, "format": "binance", "rows": len(sparse["open_ms"]), "time_unit": "s",
        "bars": len(sparse["open_ms"]), "rejects": 0,
    }  # fmt: skip
    stream = summary["streams"][0]
    assert (stream["first_open"], stream["last_open"]) == (
        "2023-03-01T00:00:00Z",
        "2023-03-21T23:59:00Z",
    )
    assert "read " in res.stderr  # the parsed summary goes to stderr with --json too


@needs_source
def test_cli_header_in_epoch_seconds_shows_2023_not_1970(sparse: dict, tmp_path: Path) -> None:
    res = run_desk(
        "feed", "replay", str(sparse["headed"]), "--dry-run", "--venue", "binanceus",
        "--symbol", "BTC/USD", "--interval", "1m", env={"DESK_DATA_DIR": str(tmp_path / "d")},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "open 2023-03-01T00:00:00Z .. 2023-03-21T23:59:00Z" in res.stderr
    assert "1970" not in res.stderr + res.stdout
    bad = run_desk(
        "feed", "replay", str(sparse["headed"]), "--dry-run", "--venue", "binanceus",
        "--symbol", "BTC/USD", "--interval", "1m", "--time-unit", "ms",
        env={"DESK_DATA_DIR": str(tmp_path / "d")},
    )  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--time-unit s" in bad.stderr


def test_streams_are_checked_against_the_running_desks_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its containment agent is what would refuse the bars: a replay asks its config first."""
    import os

    from connectors.feeds.files import read_files
    from streams.cli.replay import check_universe

    path = tmp_path / "kraken_BTCUSD_1m_x.csv"
    path.write_text(f"{COLUMNS}\n1677628800,1,2,0.5,1.5,3\n")
    result = read_files([path])
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(OVERLAY)
    for key in [k for k in os.environ if k.startswith("DESK_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DESK_DATA_DIR", str(tmp_path / "desk"))
    with pytest.raises(DeskError, match="not in the desk config's universe"):
        check_universe(result)
    assert check_universe(result, overlay) == str(overlay)
    run = tmp_path / "desk" / "run"
    run.mkdir(parents=True)
    state = {"pid": os.getpid(), "config_file": str(overlay)}  # a desk up with the overlay
    (run / "stack.json").write_text(json.dumps(state))
    assert check_universe(result) == str(overlay)
    monkeypatch.setenv("DESK_CONFIG_FILE", str(overlay))
    (run / "stack.json").unlink()
    assert check_universe(result) == str(overlay)
