"""Bad input files: one clear error line naming the file, a non-zero exit, never a traceback.

Every file is made here in ``tmp_path``: binary bytes named ``.csv``, UTF-16 and
latin-1 text, corrupt and truncated Parquet, gzip/zip archives, the wrong
separator, empty and header-only files, folders, missing and unreadable paths;
and broken desk configs. Each is checked at the library level (a ``DeskError``,
never a raw exception) and through the ``desk`` entry point.
"""

from __future__ import annotations

import gzip
import io
import random
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.feeds.files import check_bars, read_bars, read_files
from streams.config import DEFAULT_CONFIG, load_config
from streams.errors import ConfigError, DeskError
from streams.settings import load_settings
from tests.conftest import SHARED_DATA, run_desk

HEADER = "open_time,open,high,low,close,volume\n"
ROWS = "".join(f"2023-03-01 00:0{k}:00+00:00,1,2,0.5,1.5,3\n" for k in range(3))
GOOD = (HEADER + ROWS).encode()
NAME = "binanceus_BTCUSDT_1m_x"  # a name the reader takes venue, pair and interval from


def _parquet(rows: int = 1000) -> bytes:
    table = pa.table(
        {
            "open_time": ["2023-03-01 00:00:00+00:00"] * rows,
            **{c: [1.0] * rows for c in ("open", "high", "low", "close", "volume")},
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _zeroed_pages() -> bytes:
    data = bytearray(_parquet())
    data[200:600] = bytes(400)  # the column pages, footer intact
    return bytes(data)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bars.csv", GOOD)
    return buf.getvalue()


# case: (file suffix, contents, what the error line says)
BAD: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "binary": (".csv", lambda: random.Random(7).randbytes(4096), "binary data"),
    "binary-png": (".csv", lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "binary data"),
    "utf16": (".csv", lambda: (HEADER + ROWS).encode("utf-16"), "UTF-16 text"),
    "utf16-no-bom": (".csv", lambda: (HEADER + ROWS).encode("utf-16-le"), "UTF-16 text"),
    "latin1": (
        ".csv",
        lambda: (
            "venue,symbol,interval,open_time,open,high,low,close,volume\n"
            "börse,BTC/EUR,1m,2023-03-01T00:00Z,1,2,0.5,1.5,3\n".encode("latin-1")
        ),
        "not UTF-8 text (line 2 has byte 0xf6",
    ),
    "gzip": (".csv", lambda: gzip.compress(GOOD), "gzip-compressed"),
    "gzip-truncated": (".csv.gz", lambda: gzip.compress(GOOD)[:20], "gzip-compressed"),
    "zip": (".csv", _zip, "zip archive"),
    "semicolons": (".csv", lambda: GOOD.replace(b",", b";"), "looks ';'-separated"),
    "tabs": (".csv", lambda: GOOD.replace(b",", b"\t"), "looks tab-separated"),
    "semicolon-rows": (
        ".csv",
        lambda: HEADER.encode() + ROWS.replace(",", ";").encode(),
        "line 2 looks ';'-separated",
    ),
    "bare-cr": (".csv", lambda: GOOD.replace(b"\n", b"\r"), "bare CR"),
    "empty": (".csv", lambda: b"", "empty file"),
    "blank-lines": (".csv", lambda: b"\n \n\n", "empty file (only blank lines)"),
    "header-only": (".csv", lambda: HEADER.encode(), "only a header, no data rows"),
    "header-then-blank": (".csv", lambda: HEADER.encode() + b"\n\n", "only a header"),
    "repeated-column": (
        ".csv",
        lambda: b"open_time,open,high,low,close,volume,open\n2023-03-01T00:00Z,1,2,0.5,1.5,3,1\n",
        "'open' more than once",
    ),
    "parquet-garbage": (
        ".parquet",
        lambda: random.Random(8).randbytes(2048),
        "not a Parquet file",
    ),
    "parquet-truncated": (".parquet", lambda: _parquet()[:900], "truncated Parquet file"),
    "parquet-empty": (".parquet", lambda: b"", "empty file"),
    "parquet-is-csv": (".parquet", lambda: GOOD, "CSV text, not Parquet"),
    "parquet-no-rows": (".parquet", lambda: _parquet(rows=0), "only a header"),
    "parquet-bad-pages": (".parquet", _zeroed_pages, "corrupt Parquet file"),
}
# the header and the footer are fine: only the full read (still before anything is sent) finds them
ONLY_ON_FULL_READ = {"parquet-bad-pages", "semicolon-rows"}


def _make(tmp_path: Path, case: str) -> tuple[Path, str]:
    suffix, contents, says = BAD[case]
    path = tmp_path / f"{NAME}{suffix}"
    path.write_bytes(contents())
    return path, says


def _one_error_line(text: str, path: Path | str) -> str:
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("error: ") and str(path) in lines[0], text
    return lines[0]


@pytest.fixture
def desk(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """``desk ARGS...`` in this process: (exit code, stdout + stderr)."""
    import os

    from streams.cli import main

    for key in [k for k in os.environ if k.startswith("DESK_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DESK_DATA_DIR", str(tmp_path / "desk"))  # nothing runs there
    monkeypatch.chdir(tmp_path)  # no .env of the checkout

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["desk", *args])
        with pytest.raises(SystemExit) as done:
            main()
        out = capsys.readouterr()
        return int(done.value.code or 0), out.out + out.err

    return run


# -- the library: a DeskError naming the file, never a raw exception -------------------------


@pytest.mark.parametrize("case", sorted(BAD))
def test_reader_raises_one_line_desk_error(tmp_path: Path, case: str) -> None:
    path, says = _make(tmp_path, case)
    with pytest.raises(DeskError) as exc:
        read_bars(path)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ") and says in msg, msg
    with pytest.raises(DeskError, match=says.replace("(", r"\(").replace(")", r"\)")):
        read_files([path])


@pytest.mark.parametrize("case", sorted(set(BAD) - ONLY_ON_FULL_READ))
def test_header_check_alone_finds_it(tmp_path: Path, case: str) -> None:
    path, says = _make(tmp_path, case)
    with pytest.raises(DeskError) as exc:
        check_bars(path)
    assert says in str(exc.value) and str(path) in str(exc.value)


def test_folder_missing_and_unreadable_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / f"{NAME}.csv"
    folder.mkdir()
    with pytest.raises(DeskError, match=r"x\.csv: is a folder, not a file$"):
        read_bars(folder)
    with pytest.raises(DeskError, match=r"nope\.csv: no such file$"):
        read_bars(tmp_path / "nope.csv")
    locked = tmp_path / f"{NAME}_locked.csv"
    locked.write_bytes(GOOD)
    _deny(monkeypatch, locked)
    with pytest.raises(DeskError, match=r"_locked\.csv: cannot read: permission denied"):
        read_bars(locked)


def _deny(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Opening ``denied`` fails as without read permission (tests may run as root)."""
    real_open = Path.open

    def open_(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self == denied:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", open_)


def test_unnamed_trailing_columns_and_good_files_still_read(tmp_path: Path) -> None:
    excel = tmp_path / f"{NAME}.csv"
    excel.write_bytes(GOOD.replace(b"\n", b",,\n"))  # Excel's empty trailing columns
    plain = tmp_path / "binanceus_BTCUSDT_1m_plain.csv"
    plain.write_bytes(GOOD)
    assert read_bars(excel).bars == read_bars(plain).bars and len(read_bars(plain).bars) == 3
    crlf_bom = tmp_path / "binanceus_BTCUSDT_1m_crlf.csv"
    crlf_bom.write_bytes(b"\xef\xbb\xbf" + GOOD.replace(b"\n", b"\r\n"))
    assert read_bars(crlf_bom).bars == read_bars(plain).bars and not read_bars(crlf_bom).rejects
    pqt = tmp_path / f"{NAME}.parquet"
    pqt.write_bytes(_parquet(rows=3))
    assert len(read_bars(pqt).bars) == 3


@pytest.mark.skipif(not (SHARED_DATA / "crypto_1m").is_dir(), reason="no shared data")
def test_real_files_pass_the_header_check() -> None:
    for path in sorted(SHARED_DATA.rglob("*.csv")):
        assert check_bars(path) in ("binance", "yahoo_ohlcv", "yahoo_wide")


# -- the CLI: one line, non-zero, before any broker -------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD))
def test_feed_replay_prints_one_line(tmp_path: Path, desk, case: str) -> None:
    path, says = _make(tmp_path, case)
    code, out = desk("feed", "replay", str(path), "--dry-run")
    assert code == 2 and says in _one_error_line(out, path)


def test_feed_replay_names_the_file_before_looking_for_a_broker(tmp_path: Path, desk) -> None:
    good = tmp_path / "binanceus_BTCUSDT_1m_good.csv"
    good.write_bytes(GOOD)
    bad, says = _make(tmp_path, "gzip")
    code, out = desk("feed", "replay", str(good), str(bad))  # no --dry-run, no broker running
    assert code == 2 and says in _one_error_line(out, bad)
    code, out = desk("feed", "replay", str(good))
    assert code == 2 and "no broker" in out  # a good file gets as far as the broker check


def test_feed_replay_folders_missing_and_unreadable(
    tmp_path: Path, desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    code, out = desk("feed", "replay", str(empty), "--dry-run")
    assert code == 2 and "no .csv/.parquet/.pq files" in _one_error_line(out, empty)
    folder = tmp_path / "bars"
    folder.mkdir()
    (folder / "binanceus_BTCUSDT_1m_ok.csv").write_bytes(GOOD)
    bad, says = _make(folder, "parquet-garbage")
    code, out = desk("feed", "replay", str(folder), "--dry-run")
    assert code == 2 and says in _one_error_line(out, bad)
    missing = tmp_path / "nope.csv"
    code, out = desk("feed", "replay", str(missing), "--dry-run")
    assert code == 2 and "no such file" in _one_error_line(out, missing)
    locked = tmp_path / f"{NAME}_locked.csv"
    locked.write_bytes(GOOD)
    _deny(monkeypatch, locked)
    code, out = desk("feed", "replay", str(locked), "--dry-run")
    assert code == 2 and "permission denied" in _one_error_line(out, locked)


def test_error_line_is_escaped_and_printable(tmp_path: Path, desk) -> None:
    weird = tmp_path / "weird.csv"
    weird.write_text("[/red]when\x1b[2J,price\n2023-03-01,1\n")  # markup and an escape sequence
    code, out = desk("feed", "replay", str(weird), "--dry-run")
    line = _one_error_line(out, weird)
    assert code == 2 and "[/red]when\\x1b[2J" in line and "\x1b" not in line


@pytest.mark.parametrize("case", ["binary", "parquet-garbage", "gzip"])
def test_drill_files_through_the_real_entry_point(tmp_path: Path, case: str) -> None:
    path, says = _make(tmp_path, case)
    res = run_desk("feed", "replay", str(path), env={"DESK_DATA_DIR": str(tmp_path / "d")})
    assert res.returncode == 2 and says in _one_error_line(res.stdout + res.stderr, path)


# -- desk config and .env ---------------------------------------------------------------------

CONFIGS: dict[str, tuple[bytes, str]] = {
    "binary": (random.Random(9).randbytes(512) + b"\x00", "binary data, not YAML"),
    "utf16": ("desk:\n  name: x\n".encode("utf-16"), "UTF-16 text"),
    "latin1": ("desk:\n  name: café\n".encode("latin-1"), "line 2: not UTF-8 text (byte 0xe9)"),
    "empty": (b"", "empty; expected a YAML mapping"),
    "broken": (b"desk: [unclosed\n", "not valid YAML (expected ',' or ']'"),
    "control-char": (b'desk: "a\x01b"\n', "line 1: not valid YAML (character #x0001"),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_config_is_one_line(tmp_path: Path, desk, case: str) -> None:
    contents, says = CONFIGS[case]
    path = tmp_path / "desk.yaml"
    path.write_bytes(contents)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "\n" not in str(exc.value) and says in str(exc.value) and str(path) in str(exc.value)
    code, out = desk("config", "check", str(path))
    assert code == 2 and says in _one_error_line(out, path)


def test_config_folder_and_the_default_still_load(tmp_path: Path, desk) -> None:
    code, out = desk("config", "check", str(tmp_path))
    assert code == 2 and "cannot read" in _one_error_line(out, tmp_path)
    assert load_config(DEFAULT_CONFIG).desk.name


def test_env_file_not_utf8_is_one_line(
    tmp_path: Path, desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_bytes(b"DESK_TOPIC_PREFIX=caf\xe9\n")
    with pytest.raises(ConfigError, match=r"\.env: not UTF-8 text \(byte 0xe9\)"):
        load_settings()
    code, out = desk("config", "check")
    assert code == 2 and "not UTF-8" in _one_error_line(out, tmp_path / ".env")
