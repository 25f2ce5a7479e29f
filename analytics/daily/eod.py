"""End-of-day prices from the ETF file formats: deterministic rows, the raw file named by
its content hash.

Two formats (``../shared/data/etf_daily``): one symbol's OHLCV history
(``SPY_ohlcv_*.csv``: ``Date,Open,High,Low,Close,Adj Close,Volume``) and a wide file of
adjusted closes (``Date`` + a column per symbol; an empty cell before a fund existed).
A row keeps the text of its numbers exactly (``Decimal``), so the same file gives the
same rows on every machine; a re-run of an ingest finds every row already there.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from streams.errors import DeskError

OHLCV = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")


@dataclass(frozen=True)
class EodRow:
    symbol: str
    day: dt.date
    adj_close: Decimal | None  # None: a cell with no value
    close: Decimal | None
    volume: Decimal | None
    source: str  # "<file name>@<sha256 prefix>": where the row came from, by content

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "day": self.day.isoformat(),
            "adj_close": _s(self.adj_close),
            "close": _s(self.close),
            "volume": _s(self.volume),
            "source": self.source,
        }


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


@dataclass(frozen=True)
class RawFile:
    path: Path
    sha256: str
    body: bytes

    @property
    def source(self) -> str:
        return f"{self.path.name}@{self.sha256[:12]}"


def read_raw(path: Path) -> RawFile:
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise DeskError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return RawFile(path, hashlib.sha256(body).hexdigest(), body)


def csv_files(data: Iterable[Path]) -> list[Path]:
    """The CSV files named, or found in the folders named; a one-line error if none."""
    data = list(data)
    files = sorted({f for p in data for f in (sorted(p.glob("*.csv")) if p.is_dir() else [p])})
    if not files:
        raise DeskError(f"no end-of-day CSV files in {', '.join(map(str, data))}")
    return files


def keep_raw(files: Iterable[Path], out: Path) -> None:
    """Each input file under ``out`` by its content hash (``<sha256><suffix>``), once."""
    for f in files:
        raw = read_raw(f)
        kept = out / f"{raw.sha256}{f.suffix}"
        if not kept.exists():
            out.mkdir(parents=True, exist_ok=True)
            kept.write_bytes(raw.body)


def _num(text: str, where: str) -> Decimal | None:
    text = text.strip()
    if text == "" or text.lower() in ("nan", "null", "none"):
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise DeskError(f"{where}: {text!r} is not a number") from None
    if not d.is_finite():
        return None
    return d


def _day(text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise DeskError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from None


def parse(raw: RawFile, symbol: str | None = None) -> list[EodRow]:
    """The rows of one file, in file order; a one-line error names the file and line."""
    try:
        reader = csv.reader(io.StringIO(raw.body.decode("utf-8-sig")))
        header = next(reader)
    except (UnicodeDecodeError, StopIteration):
        raise DeskError(f"{raw.path}: not a UTF-8 CSV with a header") from None
    header = [h.strip() for h in header]
    if header[:1] != ["Date"]:
        raise DeskError(f"{raw.path}: the first column must be Date, got {header[:1]}")
    rows: list[EodRow] = []
    if tuple(header) == OHLCV:
        sym = symbol or raw.path.name.split("_")[0].upper()
        for n, rec in enumerate(reader, start=2):
            where = f"{raw.path.name}:{n}"
            if len(rec) != len(OHLCV):
                raise DeskError(f"{where}: {len(rec)} fields, the header has {len(OHLCV)}")
            rows.append(
                EodRow(
                    sym,
                    _day(rec[0], where),
                    _num(rec[5], where),
                    _num(rec[4], where),
                    _num(rec[6], where),
                    raw.source,
                )
            )
        return rows
    symbols = header[1:]
    for n, rec in enumerate(reader, start=2):
        where = f"{raw.path.name}:{n}"
        if len(rec) != len(header):
            raise DeskError(f"{where}: {len(rec)} fields, the header has {len(header)}")
        day = _day(rec[0], where)
        for sym, cell in zip(symbols, rec[1:], strict=True):
            rows.append(EodRow(sym, day, _num(cell, where), None, None, raw.source))
    return rows


def by_symbol(rows: Iterable[EodRow]) -> dict[str, dict[dt.date, EodRow]]:
    """symbol -> day -> row (a later file's row for the same day wins: files in order)."""
    out: dict[str, dict[dt.date, EodRow]] = {}
    for r in rows:
        out.setdefault(r.symbol, {})[r.day] = r
    return out
