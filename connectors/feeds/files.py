"""Bar files (CSV or Parquet) into ``Bar`` event dicts: the replay feed's reader.

Four layouts, told apart by the header (or forced with ``fmt``):

- ``binance``: ``open_time,open,high,low,close,volume``; venue, pair and
  interval come from a file name like ``binanceus_BTCUSDT_1m_<from>_<to>.csv``.
- ``yahoo_ohlcv``: ``Date,Open,High,Low,Close,Adj Close,Volume``; symbol from
  the file-name prefix (``SPY_ohlcv_...``), venue ``yahoo``, interval ``1d``.
- ``yahoo_wide``: ``Date`` + one adjusted-close column per symbol; close-only
  bars, and an empty cell (fund not listed yet) yields no bar.
- ``generic``: ``venue,symbol,interval,open_time,open,high,low,close,volume``
  [``,trades,adj_close``] (docs/events.md); ``--venue/--symbol/--interval``
  fill in identity columns it lacks.

A headerless file is read with ``Layout`` (``--no-header --columns ...``), and
``--columns`` renames a header's columns. Integer epoch times may be in s, ms,
µs or ns: the unit is given (``--time-unit``) or told from the magnitude, and an
implausible result is refused (``connectors.feeds.timeunit``), never misread.

A file that cannot be read at all (missing, binary, compressed, not UTF-8, corrupt
Parquet, wrong separator, no data rows...) is one ``DeskError`` line naming it.
A row that cannot be parsed becomes a ``Reject`` (file, line, reason, raw text),
never an exception and never a silent drop; a value that parses but is wrong
(NaN, zero, high < low) becomes a bar for the data-quality agent to judge.
Parsing is vectorized (Arrow CSV reader, pandas conversions); only building the
event dicts is per row. Same file in, same list of dicts out.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from connectors.feeds.normalize import INTERVAL_MS, bar_event, merge_by_event_time
from connectors.feeds.tabular import (
    NO_ROWS,
    Layout,
    Table,
    Times,
    inspect_file,
    missing,
    read_table,
    to_epoch_ms,
    to_float,
)
from connectors.feeds.timeunit import UNIT_NAMES, TimeUnitError, check_unit, epoch_to_ms
from streams.errors import DeskError

FORMATS = ("binance", "yahoo_ohlcv", "yahoo_wide", "generic")
PRICES = ("open", "high", "low", "close", "volume")
EXPECTED = {
    "binance": "open_time,open,high,low,close,volume",
    "yahoo_ohlcv": "Date,Open,High,Low,Close[,Adj Close],Volume",
    "yahoo_wide": "Date,<SYMBOL>,<SYMBOL>...",
    "generic": "venue,symbol,interval,open_time,open,high,low,close,volume[,trades,adj_close]",
}
IDENTITY = ("venue", "symbol", "interval")
_REQUIRED = {
    "binance": ("open_time", *PRICES),
    "yahoo_ohlcv": ("date", *PRICES),
    "generic": ("open_time", *PRICES),  # + the identity columns --venue/... do not give
}
# Quote currencies for splitting a pair like BTCUSDT; the longest match at the end wins.
KNOWN_QUOTES = (
    "USDT", "USDC", "BUSD", "TUSD", "FDUSD", "USDP", "DAI", "USD", "EUR", "GBP", "TRY",
    "BRL", "AUD", "JPY", "BTC", "ETH", "BNB",
)  # fmt: skip
DEFAULT_SOURCE = "feed.replay"


class Reject(NamedTuple):
    """A row that could not be read; ``ts_ms`` is its event time, else its nearest neighbour's."""

    file: str
    line: int
    reason: str
    raw: str
    ts_ms: int = 0


@dataclass(frozen=True)
class ReadOptions:
    """What an operator may say about the files; ``[since, until)`` bounds the open time."""

    fmt: str = "auto"
    venue: str | None = None
    symbol: str | None = None
    interval: str | None = None
    symbols: tuple[str, ...] | None = None
    since: int | None = None
    until: int | None = None
    source: str = DEFAULT_SOURCE
    time_unit: str | None = None  # of integer epoch times: s, ms, us, ns; None: from magnitude
    layout: Layout = field(default_factory=Layout)  # --no-header / --columns


@dataclass
class FileBars:
    """One file read: its bars in (ts_event, venue, symbol) order, its rejects in line order."""

    path: Path
    format: str
    bars: list[dict[str, Any]]
    rejects: list[Reject]
    symbols: tuple[str, ...]  # every symbol the file holds, before any --symbols subset
    rows: int = 0  # data rows read (blank lines not counted, unsplittable rows counted)
    time_unit: str | None = None  # of its integer epoch times (None: ISO or typed times)


@dataclass
class ReadResult:
    """Several files read and merged in event-time order."""

    files: list[FileBars]
    bars: list[dict[str, Any]]
    rejects: list[Reject]

    def overlaps(self) -> list[str]:
        """``venue:symbol:interval`` streams that come from more than one file.

        Their bars share event ids (same identity and open time): a sink keeps
        whichever came first, so mixing e.g. a Yahoo OHLCV file and the wide
        adjusted-close file for the same fund is worth a warning.
        """
        seen: dict[str, int] = {}
        for f in self.files:
            for key in {f"{b['venue']}:{b['symbol']}:{b['interval']}" for b in f.bars}:
                seen[key] = seen.get(key, 0) + 1
        return sorted(k for k, n in seen.items() if n > 1)

    def streams(self) -> list[dict[str, Any]]:
        """Per venue/symbol/interval: bar count, first/last event (close) and open time."""
        acc: dict[tuple[str, str, str], list[int]] = {}
        for b in self.bars:
            k = (b["venue"], b["symbol"], b["interval"])
            s = acc.get(k)
            if s is None:
                acc[k] = [1, b["ts_event"], b["ts_event"], b["open_time"], b["open_time"]]
            else:
                s[0] += 1
                s[1] = min(s[1], b["ts_event"])
                s[2] = max(s[2], b["ts_event"])
                s[3] = min(s[3], b["open_time"])
                s[4] = max(s[4], b["open_time"])
        return [
            {"venue": v, "symbol": s, "interval": i, "bars": n, "first_ts": lo, "last_ts": hi}
            | {"first_open": o_lo, "last_open": o_hi}
            for (v, s, i), (n, lo, hi, o_lo, o_hi) in sorted(acc.items())
        ]


# -- public entry points ---------------------------------------------------------------------


def read_files(paths: Iterable[Path | str], options: ReadOptions | None = None) -> ReadResult:
    """Read every file and merge the bars by (ts_event, venue, symbol)."""
    opts = options or ReadOptions()
    files = [read_bars(p, opts) for p in paths]
    if opts.symbols:
        held = {s for f in files for s in f.symbols}
        unknown = [s for s in opts.symbols if s not in held]
        if unknown:
            raise DeskError(
                f"--symbols {','.join(unknown)}: in none of the files "
                f"(they hold: {', '.join(sorted(held)) or 'nothing'})"
            )
    bars = list(merge_by_event_time(*(f.bars for f in files)))
    return ReadResult(files, bars, [r for f in files for r in f.rejects])


def read_bars(path: Path | str, options: ReadOptions | None = None) -> FileBars:
    """One file's bars, ordered by (ts_event, venue, symbol), and its rejects."""
    opts = options or ReadOptions()
    path = Path(path)
    fmt, header = _check(path, opts)
    if fmt == "yahoo_wide":
        return _read_wide(path, header, opts)
    return _read_ohlcv(path, fmt, opts)


def check_bars(path: Path | str, options: ReadOptions | None = None) -> str:
    """The cheap checks of a bar file before reading it whole; returns its format.

    Only the header (or the Parquet footer) is read: a file that is missing,
    unreadable, empty, binary, compressed, not UTF-8, corrupt, split by the
    wrong separator, only a header, of no known layout, or of unknown identity
    is a one-line ``DeskError`` naming the file, before anything else happens.
    """
    return _check(Path(path), options or ReadOptions())[0]


def _check(path: Path, opts: ReadOptions) -> tuple[str, list[str]]:
    try:
        check_unit(opts.time_unit)
    except TimeUnitError as exc:
        raise DeskError(f"--time-unit: {exc}") from None
    header, has_rows = inspect_file(path, opts.layout)
    fmt = detect_format(path, header) if opts.fmt == "auto" else _check_forced(path, header, opts)
    if not has_rows:
        raise DeskError(f"{path}: {NO_ROWS}")
    if fmt != "yahoo_wide":
        _identity(path, fmt, opts, header)
    return fmt, header


def detect_format(path: Path, header: Sequence[str]) -> str:
    """The layout a header belongs to; a header that fits none is a one-line ``DeskError``.

    ``generic`` when it has any identity column (venue, symbol, interval), the
    rest coming from the options; ``binance`` when it has none (file name, options).
    """
    names = {h.lower() for h in header}
    if set(_REQUIRED["generic"]) <= names and names & set(IDENTITY):
        return "generic"
    for fmt in ("binance", "yahoo_ohlcv"):
        if set(_REQUIRED[fmt]) <= names:
            return fmt
    wide = header and header[0].lower() == "date" and len(header) > 1 and all(header[1:])
    if wide and not names & {*PRICES, "adj close", "open_time"}:
        return "yahoo_wide"
    if _looks_like_data(header):
        raise DeskError(_headerless(path, header))
    expected = "; ".join(f"{k}: {v}" for k, v in EXPECTED.items())
    raise DeskError(
        f"{path}: header matches no bar file format (got {','.join(header)[:200]}); "
        f"expected {expected}; --columns names or renames columns"
    )


def _looks_like_data(header: Sequence[str]) -> bool:
    """A first line of numbers (and times) rather than names: a file without a header."""
    cells = [h for h in header if h]
    return len(cells) >= 2 and all(any(ch.isdigit() for ch in c) for c in cells)


def _headerless(path: Path, header: Sequence[str]) -> str:
    return (
        f"{path}: line 1 is data, not a header ({','.join(header)[:80]}); name the columns: "
        "--no-header --columns open_time,open,high,low,close,volume (in file order; "
        "an empty name skips a column)"
    )


def parse_when(text: str) -> int:
    """An operator's time (ISO-8601, naive = UTC, or an integer epoch in s/ms/us/ns) as ms UTC."""
    t = text.strip()
    if t.lstrip("+-").isdigit():
        try:
            return int(epoch_to_ms(np.array([int(t)], dtype=np.int64)).ms[0])
        except (TimeUnitError, OverflowError):
            raise DeskError(
                f"not a plausible epoch time: {text!r} (s, ms, us or ns since 1970, "
                "from 1990 on); or use ISO-8601, e.g. 2023-03-10T00:00Z"
            ) from None
    try:
        ts = pd.Timestamp(t)
    except ValueError:
        raise DeskError(f"not a time: {text!r} (use ISO-8601, e.g. 2023-03-10T00:00Z)") from None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def split_pair(pair: str) -> str:
    """``BTCUSDT`` → ``BTC/USDT`` (longest known quote at the end); ``BTC-USD`` → ``BTC/USD``."""
    p = pair.strip().upper()
    for sep in "/-":
        if sep in p:
            base, quote = p.split(sep, 1)
            return f"{base}/{quote}"
    for q in sorted(KNOWN_QUOTES, key=len, reverse=True):
        if p.endswith(q) and len(p) > len(q):
            return f"{p[: -len(q)]}/{q}"
    raise DeskError(
        f"cannot split pair {pair!r} into base/quote (known quotes: {', '.join(KNOWN_QUOTES)}); "
        "pass --symbol BASE/QUOTE"
    )


def name_identity(path: Path) -> dict[str, str]:
    """Venue, symbol and interval a ``<venue>_<PAIR>_<interval>_...`` file name tells."""
    parts = path.stem.split("_")
    if len(parts) < 3 or parts[2] not in INTERVAL_MS:
        return {}
    try:
        return {"venue": parts[0].lower(), "symbol": split_pair(parts[1]), "interval": parts[2]}
    except DeskError:
        return {"venue": parts[0].lower(), "interval": parts[2]}


# -- formats ---------------------------------------------------------------------------------


def _check_forced(path: Path, header: Sequence[str], opts: ReadOptions) -> str:
    if opts.fmt not in FORMATS:
        raise DeskError(f"unknown format {opts.fmt!r}; use auto or one of {', '.join(FORMATS)}")
    if opts.fmt == "yahoo_wide":
        if not header or header[0].lower() != "date" or len(header) < 2:
            raise DeskError(f"{path}: --format yahoo_wide needs {EXPECTED['yahoo_wide']}")
        return opts.fmt
    lacking = [c for c in _REQUIRED[opts.fmt] if c not in {h.lower() for h in header}]
    if lacking and _looks_like_data(header):
        raise DeskError(_headerless(path, header))
    if lacking:
        raise DeskError(
            f"{path}: --format {opts.fmt} needs columns {EXPECTED[opts.fmt]}; "
            f"missing: {', '.join(lacking)}"
        )
    return opts.fmt


def _identity(path: Path, fmt: str, opts: ReadOptions, header: Sequence[str]) -> dict[str, str]:
    """The venue/symbol/interval the file's rows share, for those no column carries.

    Precedence: a column of the file, then ``--venue/--symbol/--interval``, then the
    file name (``<venue>_<PAIR>_<interval>_...``; Yahoo: ``yahoo``, the name's
    prefix, ``1d``). An option that contradicts a column is an error (``_texts_of``).
    """
    carried = {h.lower() for h in header} & set(IDENTITY) if fmt == "generic" else set()
    if fmt == "yahoo_wide":  # one symbol per column
        found = {"venue": "yahoo", "interval": "1d"}
        carried = {"symbol"}
    elif fmt == "yahoo_ohlcv":  # SPY_ohlcv_2017-... -> SPY
        found = {"venue": "yahoo", "interval": "1d", "symbol": path.stem.split("_")[0]}
    else:
        found = name_identity(path)
    given = {"venue": opts.venue, "symbol": opts.symbol, "interval": opts.interval}
    ident = found | {k: v for k, v in given.items() if v}
    lacking = [k for k in IDENTITY if k not in carried and not ident.get(k)]
    if lacking:
        raise DeskError(
            f"{path}: cannot tell the {'/'.join(lacking)}: no such column and the file name "
            f"does not say (expected <venue>_<PAIR>_<interval>_....csv); "
            f"pass {' '.join('--' + k for k in lacking)}"
        )
    if "interval" not in carried or opts.interval:  # a column's intervals are checked per row
        _check_interval(ident["interval"])
    return {k: v for k, v in ident.items() if k not in carried}


def _check_interval(interval: str) -> None:
    if interval not in INTERVAL_MS:
        raise DeskError(f"unknown bar interval {interval!r}; known: {', '.join(INTERVAL_MS)}")


class _Reasons:
    """Why each bad row of a table is bad; one reject per row, reasons joined."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.by_row: dict[int, list[str]] = {}

    def add(self, mask: np.ndarray, label: str, what: str, col: pd.Series | None = None) -> None:
        for i in np.flatnonzero(mask):
            cell = f" {str(col.iloc[i]).strip()!r}" if col is not None else ""
            self.by_row.setdefault(int(i), []).append(f"{label}: {what}{cell}")

    def mask(self) -> np.ndarray:
        m = np.zeros(len(self.table), dtype=bool)
        m[list(self.by_row)] = True
        return m


def _col(table: Table, name: str) -> pd.Series | None:
    for h in table.columns:
        if h.lower() == name:
            return table.columns[h]
    return None


def _label(table: Table, name: str) -> str:
    return next((h for h in table.columns if h.lower() == name), name)


def _times(
    path: Path, table: Table, why: _Reasons, name: str, naive_is_utc: bool, opts: ReadOptions
) -> tuple[Times, np.ndarray]:
    """The time column read (unit given or told), its bad cells reported; and its missing cells."""
    col = _col(table, name)
    assert col is not None
    label = _label(table, name)
    try:
        t = to_epoch_ms(col, naive_is_utc, opts.time_unit, table.lines)
    except TimeUnitError as exc:
        hint = "" if "--time-unit" in str(exc) else "; see --time-unit"
        raise DeskError(f"{path}: {label}: {exc}{hint}") from None
    t_missing = missing(col)
    ok_int = t.implausible & ~t_missing
    why.add(t_missing & ~table.blank, label, "missing")
    if t.unit is not None:
        why.add(ok_int, label, f"not a plausible time in epoch {UNIT_NAMES[t.unit]}", col)
    why.add(t.bad & t.naive & ~t_missing, label, "no UTC offset", col)
    why.add(t.bad & ~t.naive & ~t.implausible & ~t_missing, label, "not a timestamp", col)
    return t, t_missing


def _read_ohlcv(path: Path, fmt: str, opts: ReadOptions) -> FileBars:
    table = read_table(path, layout=opts.layout)
    n = len(table)
    why = _Reasons(table)
    blank = table.blank
    name = "date" if fmt == "yahoo_ohlcv" else "open_time"
    times, t_missing = _times(path, table, why, name, fmt != "generic", opts)
    open_ms, t_bad = times.ms, times.bad
    values: dict[str, np.ndarray] = {}
    for name in PRICES:
        col = _col(table, name)
        assert col is not None
        values[name], bad = to_float(col)
        why.add(bad, _label(table, name), "not a number", col)
    trades = _optional(table, why, "trades", integer=True)
    adj = _optional(table, why, "adj close" if fmt == "yahoo_ohlcv" else "adj_close")

    ident = _identity(path, fmt, opts, table.header)
    given = {"venue": opts.venue, "symbol": opts.symbol, "interval": opts.interval}
    cols = {
        k: pd.Series([ident[k]] * n, dtype=object)
        if k in ident
        else _texts_of(path, table, why, k, given[k], blank)
        for k in IDENTITY
    }
    venue, symbol, interval = cols["venue"], cols["symbol"], cols["interval"]
    if "interval" not in ident:
        iv = interval
        unknown = ~iv.isin(list(INTERVAL_MS)).to_numpy() & (iv != "").to_numpy()
        why.add(unknown, "interval", f"unknown (known: {', '.join(INTERVAL_MS)})", iv)

    iv_ms = interval.map(INTERVAL_MS).to_numpy(dtype=np.float64, na_value=np.nan)
    ok = ~why.mask() & ~blank
    held = tuple(sorted(set(symbol[ok].tolist())))
    keep = ok & _window(open_ms, opts) & _wanted(symbol, opts)
    row_open = np.where(~t_bad & ~t_missing, open_ms, np.nan)
    rejects = _rejects(path, table, why, row_open, iv_ms, opts)
    idx = _event_order(np.flatnonzero(keep), open_ms + iv_ms, venue, symbol)
    with _no_gc():
        bars = _ohlcv_bars(idx, venue, symbol, interval, open_ms, values, trades, adj, opts)
    rows = int((~blank).sum()) + len(table.broken)
    return FileBars(path, fmt, bars, rejects, held, rows, times.unit)


def _ohlcv_bars(
    idx: np.ndarray,
    venue: pd.Series,
    symbol: pd.Series,
    interval: pd.Series,
    open_ms: np.ndarray,
    values: dict[str, np.ndarray],
    trades: np.ndarray | None,
    adj: np.ndarray | None,
    opts: ReadOptions,
) -> list[dict[str, Any]]:
    return [
        bar_event(
            venue=v,
            symbol=s,
            interval=i,
            open_time_ms=t,
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=vol,
            source=opts.source,
            trades=tr,
            adj_close=a,
        )
        for v, s, i, t, o, h, lo, c, vol, tr, a in zip(
            venue.to_numpy()[idx].tolist(),
            symbol.to_numpy()[idx].tolist(),
            interval.to_numpy()[idx].tolist(),
            open_ms[idx].tolist(),
            *(values[p][idx].tolist() for p in PRICES),
            _none_where_nan(trades, idx, int),
            _none_where_nan(adj, idx, float),
            strict=True,
        )
    ]


def _read_wide(path: Path, header: Sequence[str], opts: ReadOptions) -> FileBars:
    if opts.symbol:
        raise DeskError(f"{path}: --symbol does not apply to a wide file; use --symbols")
    ident = _identity(path, "yahoo_wide", opts, header)
    held = tuple(h for h in header[1:] if h)
    chosen = [h for h in held if not opts.symbols or h in opts.symbols]
    table = read_table(path, [header[0], *chosen], opts.layout)
    why = _Reasons(table)
    blank = table.blank
    times, t_missing = _times(path, table, why, header[0].lower(), True, opts)
    open_ms, t_bad = times.ms, times.bad
    row_ok = ~t_bad & ~t_missing & ~blank & _window(open_ms, opts)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for k, sym in enumerate(chosen):
        col = table.columns[sym]
        v, bad = to_float(col)
        why.add(bad & ~t_bad, sym, "not a number", col)
        take = np.flatnonzero(row_ok & ~bad & ~np.isnan(v))
        rows.append(take)
        cols.append(np.full(len(take), k))
        vals.append(v[take])
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    sym_k = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    value = np.concatenate(vals) if vals else np.zeros(0)
    rank = np.argsort(np.argsort(np.array(chosen, dtype=object)))  # symbol name order
    order = np.lexsort((rank[sym_k], open_ms[row])) if len(row) else row
    row, sym_k, value = row[order], sym_k[order], value[order]
    iv_ms = np.full(len(table), float(INTERVAL_MS[ident["interval"]]))
    rejects = _rejects(path, table, why, np.where(t_bad | t_missing, np.nan, open_ms), iv_ms, opts)
    bars = []
    with _no_gc():
        for t, k, x in zip(open_ms[row].tolist(), sym_k.tolist(), value.tolist(), strict=True):
            b = bar_event(
                venue=ident["venue"],
                symbol=chosen[k],
                interval=ident["interval"],
                open_time_ms=t,
                open=x,
                high=x,
                low=x,
                close=x,
                volume=0.0,
                source=opts.source,
                adj_close=x,
            )
            b["quality_flags"] = ["close_only"]
            bars.append(b)
    rows = int((~blank).sum()) + len(table.broken)
    return FileBars(path, "yahoo_wide", bars, rejects, held, rows, times.unit)


# -- helpers ---------------------------------------------------------------------------------


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cycle collector while building many acyclic dicts (a third of the time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _event_order(
    idx: np.ndarray, ts: np.ndarray, venue: pd.Series, symbol: pd.Series
) -> np.ndarray:
    """``idx`` re-ordered by (ts_event, venue, symbol), file order kept among equals."""
    if len(idx) < 2:
        return idx
    keys = pd.DataFrame(
        {"ts": ts[idx], "venue": venue.to_numpy()[idx], "symbol": symbol.to_numpy()[idx]}
    )
    return idx[keys.sort_values(["ts", "venue", "symbol"], kind="stable").index.to_numpy()]


def _optional(table: Table, why: _Reasons, name: str, integer: bool = False) -> np.ndarray | None:
    col = _col(table, name)
    if col is None:
        return None
    v, bad = to_float(col)
    why.add(bad, _label(table, name), "not a number", col)
    if integer:
        frac = ~bad & ~np.isnan(v) & (np.floor(v) != v)
        why.add(frac, _label(table, name), "not an integer", col)
    return v


def _texts_of(
    path: Path, table: Table, why: _Reasons, name: str, given: str | None, blank: np.ndarray
) -> pd.Series:
    """An identity column (venue, symbol, interval) of a generic file.

    ``given`` (``--venue`` ...) fills its empty cells; a cell that says otherwise
    is a one-line ``DeskError``: an option never silently rewrites what a file says.
    """
    col = _col(table, name)
    assert col is not None
    text = col.astype(object).where(col.notna(), "").astype(str).str.strip()
    empty = (text == "").to_numpy()
    if given:
        clash = np.flatnonzero(~empty & (text != given).to_numpy())
        if len(clash):
            k = int(clash[0])
            raise DeskError(
                f"{path}: --{name} {given} but line {int(table.lines[k])} says {name} "
                f"{text.iloc[k]!r}; a file's {name} column wins: drop --{name} (it only fills "
                "in what the file does not carry) or fix the file"
            )
        return text.where(~empty, given).astype(object)
    why.add(empty & ~blank, name, "missing")
    return text.astype(object)


def _none_where_nan(v: np.ndarray | None, idx: np.ndarray, cast: type) -> list[Any]:
    if v is None:
        return [None] * len(idx)
    return [None if x != x else cast(x) for x in v[idx].tolist()]


def _window(open_ms: np.ndarray, opts: ReadOptions) -> np.ndarray:
    keep = np.ones(len(open_ms), dtype=bool)
    if opts.since is not None:
        keep &= open_ms >= opts.since
    if opts.until is not None:
        keep &= open_ms < opts.until
    return keep


def _wanted(symbol: pd.Series, opts: ReadOptions) -> np.ndarray:
    if not opts.symbols:
        return np.ones(len(symbol), dtype=bool)
    return symbol.isin(list(opts.symbols)).to_numpy()


def _rejects(
    path: Path,
    table: Table,
    why: _Reasons,
    row_open: np.ndarray,
    iv_ms: np.ndarray,
    opts: ReadOptions,
) -> list[Reject]:
    """Rejects in line order, each placed at its own time or its nearest readable neighbour's."""
    if not why.by_row and not table.broken:
        return []
    lines = table.lines
    t_open = pd.Series(row_open).ffill().bfill().fillna(0).to_numpy()
    t_close = t_open + pd.Series(iv_ms).ffill().bfill().fillna(0).to_numpy()
    out: list[tuple[int, float, float, str, str]] = []
    for i, reasons in why.by_row.items():
        line = int(lines[i])
        out.append((line, t_open[i], t_close[i], "; ".join(reasons), table.raw_line(line)))
    for line, reason, raw in table.broken:  # placed like the data row just before it
        pos = max(int(np.searchsorted(lines, line)) - 1, 0)
        o, c = (t_open[pos], t_close[pos]) if len(lines) else (0.0, 0.0)
        out.append((line, o, c, reason, raw))
    out.sort()
    return [
        Reject(str(path), line, reason, raw, int(close))
        for line, open_, close, reason, raw in out
        if (opts.since is None or open_ >= opts.since)
        and (opts.until is None or open_ < opts.until)
    ]
