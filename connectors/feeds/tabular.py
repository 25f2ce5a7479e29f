"""Bar files as columns with line numbers, and vectorized column parsing that reports bad cells.

A file is read whole into string columns (CSV) or typed columns (Parquet), each
data row keeping its line number so a bad row can be reported where it is, with
its raw text. Parsing a column never raises on a bad cell: it returns the values
and a mask of the cells that could not be read, so one bad row costs one reject,
not the file.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.feeds.timeunit import EpochTimes, epoch_to_ms
from streams.errors import DeskError

# Cell texts that mean "no value": a missing price becomes NaN, a missing wide cell no bar.
MISSING_TEXT = ("", "nan", "+nan", "-nan", "null", "none", "n/a", "na")
_INT_RE = r"[+-]?\d+"
_INT64_MAX = "9223372036854775807"
# an ISO time that ends with Z or a UTC offset (a bare date or a naive time does not)
_OFFSET_RE = r".*\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)"


@dataclass
class Table:
    """A file's data rows: columns by header name, one line number per row, rows it could not split.

    ``lines`` are 1-based file lines (the header is line 1) for CSV, 1-based row
    numbers for Parquet. ``broken`` holds rows with the wrong number of fields;
    ``blank`` marks blank lines (nothing to read, nothing to report).
    """

    header: list[str]
    columns: dict[str, pd.Series]
    lines: np.ndarray
    broken: list[tuple[int, str, str]]  # (line, reason, raw)
    raw_line: Callable[[int], str]
    blank: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)


# Names an operator may give columns with --columns (skip a column with an empty name or _).
COLUMN_NAMES = (
    "venue", "symbol", "interval", "open_time", "open", "high", "low", "close", "volume",
    "trades", "adj_close",
)  # fmt: skip
_SKIP = ("", "_", "-")


@dataclass(frozen=True)
class Layout:
    """How a file's columns are named: by its header line, or by the operator (``--columns``).

    ``names`` name the columns in file order (``""`` skips one; columns past the
    last name are not read): with ``header`` they replace the header's names,
    without it line 1 is data. ``renames`` (``old=new`` pairs) rename header columns.
    """

    header: bool = True
    names: tuple[str, ...] | None = None
    renames: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, no_header: bool = False, columns: str | None = None) -> Layout:
        """From ``--no-header`` and ``--columns`` (``a,b,,c`` by position, or ``old=new,...``)."""
        items = [c.strip() for c in columns.split(",")] if columns is not None else None
        if items is not None and any("=" in c for c in items):
            pairs = [tuple(p.strip() for p in c.split("=", 1)) for c in items if c]
            if no_header or any(len(p) != 2 or not p[0] for p in pairs):
                raise DeskError(
                    "--columns: either names in file order (open_time,open,...) or, for a file "
                    "with a header, renames old=new,...; not both"
                )
            for _old, new in pairs:
                _known_name(new)
            return cls(True, None, tuple(pairs))  # type: ignore[arg-type]
        if items is not None:
            names = tuple("" if c in _SKIP else c.lower() for c in items)
            for n in names:
                if n:
                    _known_name(n)
            twice = sorted({n for n in names if n and names.count(n) > 1})
            if twice:
                raise DeskError(f"--columns: {', '.join(twice)} named more than once")
            return cls(not no_header, names)
        if no_header:
            raise DeskError(
                "--no-header needs --columns naming the columns in file order, e.g. "
                "--columns open_time,open,high,low,close,volume"
            )
        return cls()

    def name(self, path: Path, first: list[str]) -> list[str]:
        """Column names of a file whose first line splits into ``first``."""
        if self.renames:
            lower = {h.lower(): k for k, h in enumerate(first)}
            named = list(first)
            for old, new in self.renames:
                if old.lower() not in lower:
                    raise DeskError(
                        f"{path}: --columns {old}={new}: the header has no column {old!r} "
                        f"(it has: {','.join(first)[:200]})"
                    )
                named[lower[old.lower()]] = new
            return named
        if self.names is None:
            return first
        if len(self.names) > len(first):
            what = "the header has" if self.header else "line 1 has"
            raise DeskError(
                f"{path}: --columns names {len(self.names)} columns but {what} {len(first)} "
                f"fields ({','.join(first)[:120]})"
            )
        if not self.header and first and not any(any(ch.isdigit() for ch in f) for f in first):
            raise DeskError(
                f"{path}: --no-header, but line 1 looks like a header ({','.join(first)[:120]}); "
                "drop --no-header (--columns alone renames a header's columns)"
            )
        return [*self.names, *[""] * (len(first) - len(self.names))]


def _known_name(name: str) -> None:
    if name.lower() not in COLUMN_NAMES:
        raise DeskError(
            f"--columns: unknown column name {name!r}; known: {', '.join(COLUMN_NAMES)} "
            "(an empty name or _ skips a column)"
        )


def read_header(path: Path, layout: Layout | None = None) -> list[str]:
    """Column names of a CSV or Parquet file, stripped; unreadable: a one-line DeskError."""
    return inspect_file(path, layout)[0]


def inspect_file(path: Path, layout: Layout | None = None) -> tuple[list[str], bool]:
    """(header, has data rows): the cheap look at a file before reading it whole.

    Reads the Parquet footer or the first 64 KiB of a CSV file. Anything that
    makes the file unreadable (missing, a folder, no permission, empty, binary,
    compressed, not UTF-8, corrupt Parquet, ...) is a one-line ``DeskError``
    naming the file. ``has data rows`` is False only when the file surely has none.
    The names are the ``layout``'s (default: the header line's).
    """
    layout = layout or Layout()
    check_file(path)
    if is_parquet(path):
        _parquet_layout(path, layout)
        schema, rows = _parquet_meta(path)
        header, has_rows = layout.name(path, [c.strip() for c in schema.names]), rows > 0
    else:
        data = _read_bytes(path, SAMPLE_BYTES)
        text = _decode(path, data, partial=len(data) == SAMPLE_BYTES)
        first, _, rest = text.partition("\n")
        header = layout.name(path, _split_header(path, first))
        data_text = rest if layout.header else text
        has_rows = bool(data_text.strip()) or len(data) == SAMPLE_BYTES
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        raise DeskError(f"{path}: the header has {', '.join(map(repr, twice))} more than once")
    return header, has_rows


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def check_file(path: Path) -> None:
    """A missing path, a folder or a non-regular file is a one-line ``DeskError``."""
    if path.is_dir():
        raise DeskError(f"{path}: is a folder, not a file")
    if not path.exists():
        raise DeskError(f"{path}: no such file")
    if not path.is_file():
        raise DeskError(f"{path}: not a regular file")


def read_table(path: Path, columns: list[str] | None = None, layout: Layout | None = None) -> Table:
    """The whole file (or only ``columns``) as a ``Table``; the format comes from the extension.

    A file with no data rows (only a header, or only blank lines after it) is a ``DeskError``.
    Columns are named by ``layout`` (default: the header line).
    """
    layout = layout or Layout()
    check_file(path)
    if is_parquet(path):
        _parquet_layout(path, layout)
    try:
        if is_parquet(path):
            table = _read_parquet(path, columns, layout)
        else:
            table = _read_csv(path, columns, layout)
    except (OSError, pa.ArrowException) as exc:
        if is_parquet(path):
            raise DeskError(f"{path}: {_parquet_problem(path, exc)}") from None
        raise DeskError(f"{path}: cannot read: {_one_line(str(exc))}") from None
    except csv.Error as exc:
        raise DeskError(f"{path}: cannot split into fields: {_one_line(str(exc))}") from None
    if not table.blank.all():
        return table
    if not table.broken:
        raise DeskError(f"{path}: {NO_ROWS}")
    line, _reason, raw = table.broken[0]
    sep = next((s for s in _SEPARATORS if len(raw.split(s)) == len(table.header)), None)
    if sep is not None:
        raise DeskError(
            f"{path}: no row has the header's {len(table.header)} comma-separated fields; "
            f"line {line} looks {_SEPARATORS[sep]}-separated; re-export it comma-separated"
        )
    return table


NO_ROWS = "only a header, no data rows"
SAMPLE_BYTES = 65_536
_UTF8_FIX = "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE > NEW.csv)"
_MAGIC = {  # leading bytes of files that are not CSV text, and what to do about them
    b"\x1f\x8b": "gzip-compressed, not CSV text; decompress it first (gunzip)",
    b"PK\x03\x04": "a zip archive (an Excel .xlsx is one), not CSV text; unzip or export it to CSV",
    b"PAR1": "a Parquet file, not CSV text; give it a .parquet name",
    b"BZh": "bzip2-compressed, not CSV text; decompress it first (bunzip2)",
    b"\xfd7zXZ\x00": "xz-compressed, not CSV text; decompress it first (unxz)",
    b"\x28\xb5\x2f\xfd": "zstd-compressed, not CSV text; decompress it first (unzstd)",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office file, not CSV text; export it to CSV",
}
_SEPARATORS = {";": "';'", "\t": "tab", "|": "'|'"}


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _read_bytes(path: Path, limit: int = -1) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(limit)
    except PermissionError:
        raise DeskError(f"{path}: cannot read: permission denied (check it with ls -l)") from None
    except IsADirectoryError:
        raise DeskError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise DeskError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _decode(path: Path, data: bytes, partial: bool = False) -> str:
    """The file's bytes as text, or a one-line ``DeskError`` saying why they are not CSV text."""
    if not data.strip():
        raise DeskError(f"{path}: empty file" + (" (only blank lines)" if data else ""))
    problem = _not_text(data)
    if problem:
        raise DeskError(f"{path}: {problem}")
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=not partial)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DeskError(
            f"{path}: not UTF-8 text (line {line} has byte 0x{data[exc.start]:02x}, "
            f"latin-1 or Windows-1252 perhaps); {_UTF8_FIX}"
        ) from None


def _not_text(data: bytes) -> str | None:
    """Why ``data`` is not UTF-8 CSV text (compressed, binary, UTF-16), or None."""
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            return what
    head = data[:SAMPLE_BYTES]
    zeros = sorted((head[0::2].count(0), head[1::2].count(0)))  # UTF-16 ASCII: NUL every 2nd byte
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        len(head) >= 4 and zeros[1] > len(head) // 4 and zeros[0] <= len(head) // 50
    ):
        return f"UTF-16 text, not UTF-8; {_UTF8_FIX.replace('latin1', 'utf-16')}"
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        return f"binary data (a NUL byte on line {line}), not CSV text; is it the right file?"
    controls = sum(head.count(bytes([c])) for c in (*range(1, 9), *range(14, 32), 127))
    if controls > 4 and controls * 100 > len(head):  # not a stray escape in a text file
        return "binary data, not CSV text; is it the right file?"
    return None


def _split_header(path: Path, line: str) -> list[str]:
    """The header line's column names; a line the csv module cannot split is a ``DeskError``."""
    try:
        header = [c.strip() for c in next(csv.reader([line.rstrip("\r")]), [])]
    except csv.Error as exc:
        if "\r" in line:
            raise DeskError(
                f"{path}: lines end in a bare CR (old Mac text); convert them to LF "
                "(e.g. tr '\\r' '\\n' < FILE > NEW.csv)"
            ) from None
        raise DeskError(f"{path}: line 1: cannot split the header: {exc}") from None
    if len(header) == 1:
        sep = next((s for s in _SEPARATORS if s in header[0]), None)
        if sep is not None:
            raise DeskError(
                f"{path}: the header is one column ({header[0][:80]!r}): the file looks "
                f"{_SEPARATORS[sep]}-separated; bar files are comma-separated with '.' decimals, "
                "re-export it that way"
            )
    return header


def _parquet_meta(path: Path) -> tuple[pa.Schema, int]:
    """A Parquet file's schema and row count (its footer), or a one-line ``DeskError``."""
    import pyarrow.parquet as pq

    _read_bytes(path, 0)  # permissions, a folder: the plain message
    try:
        with pq.ParquetFile(path) as pf:
            return pf.schema_arrow, pf.metadata.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise DeskError(f"{path}: {_parquet_problem(path, exc)}") from None


def _parquet_problem(path: Path, exc: Exception) -> str:
    """What is wrong with a Parquet file Arrow refused, in an operator's words."""
    with path.open("rb") as f:
        head = f.read(64)
        f.seek(max(path.stat().st_size - 4, 0))
        tail = f.read(4)
    if not head.strip():
        return "empty file"
    if not head.startswith(b"PAR1"):
        for magic, what in _MAGIC.items():
            if head.startswith(magic) and magic != b"PAR1":
                return what.replace("CSV text", "Parquet").replace("to CSV", "to Parquet")
        try:  # (incremental: the 64 bytes may end inside a character)
            looks_csv = "," in codecs.getincrementaldecoder("utf-8")().decode(head)
        except UnicodeDecodeError:
            looks_csv = False
        if looks_csv:
            return "CSV text, not Parquet; give it a .csv name"
        return "not a Parquet file (no Parquet magic bytes at the start); is it the right file?"
    if tail != b"PAR1":
        return "truncated Parquet file (no footer at the end); copy or write it again"
    return f"corrupt Parquet file ({_one_line(str(exc), 120)}); write it again"


def _parquet_layout(path: Path, layout: Layout) -> None:
    if not layout.header:
        raise DeskError(
            f"{path}: --no-header: a Parquet file's columns always have names; "
            "use --columns alone to rename them"
        )


def _read_parquet(path: Path, columns: list[str] | None, layout: Layout) -> Table:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as pf:  # not pq.read_table: it refuses repeated (unnamed) columns
        tab = pf.read()
    header = layout.name(path, [c.strip() for c in tab.column_names])
    frame = tab.select([header.index(c) for c in columns or header if c]).to_pandas()
    frame.columns = [c for c in columns or header if c]
    lines = np.arange(1, len(frame) + 1, dtype=np.int64)

    def raw_line(n: int) -> str:
        return ",".join(
            "" if v is None else str(v) for v in tab.slice(n - 1, 1).to_pylist()[0].values()
        )

    blank = np.zeros(len(frame), dtype=bool)
    return Table(header, {c: frame[c] for c in frame.columns}, lines, [], raw_line, blank)


def _read_csv(path: Path, columns: list[str] | None, layout: Layout) -> Table:
    text = _decode(path, _read_bytes(path))
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()

    def raw_line(n: int) -> str:
        return raw[n - 1].rstrip("\r") if 0 < n <= len(raw) else ""

    header = layout.name(path, _split_header(path, raw[0]))
    skip = 1 if layout.header else 0  # lines before the first data row
    wanted = columns or [h for h in header if h]  # unnamed columns (Excel's trailing ,,) unread
    names = [h or f"\x00unnamed {k}" for k, h in enumerate(header)]  # Arrow wants unique names
    broken: list[tuple[int, str, str]] = []
    width = "the header has" if layout.header else "line 1 has"

    def on_invalid(row: pacsv.InvalidRow) -> str:
        line = row.number or 0
        reason = f"{row.actual_columns} fields, {width} {row.expected_columns}"
        broken.append((line, reason, row.text))
        return "skip"

    try:  # fast path: Arrow's C++ reader, serial so invalid rows carry their line number
        tab = pacsv.read_csv(
            io.BytesIO(text.encode()),
            read_options=pacsv.ReadOptions(use_threads=False, column_names=names, skip_rows=skip),
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=on_invalid, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                include_columns=wanted,
            ),
        )
    except pa.ArrowInvalid:
        tab = None
    # rows and line numbers line up unless a quoted value spans lines: then the csv module
    exact = all(b[0] and '"' not in b[2] for b in broken)
    if tab is not None and exact and tab.num_rows + len(broken) == len(raw) - skip:
        lines = np.arange(skip + 1, len(raw) + 1, dtype=np.int64)
        if broken:
            lines = lines[~np.isin(lines, [b[0] for b in broken])]
        cols = {
            c: pd.Series(tab.column(c).to_numpy(zero_copy_only=False), dtype=str) for c in wanted
        }
        return Table(header, cols, lines, sorted(broken), raw_line, _blank(raw, lines))
    return _read_csv_slow(text, header, wanted, raw_line, layout.header)


def _read_csv_slow(
    text: str,
    header: list[str],
    wanted: list[str],
    raw_line: Callable[[int], str],
    has_header: bool = True,
) -> Table:
    """Row by row with the csv module: for files with quoted newlines or odd rows Arrow refused."""
    reader = csv.reader(io.StringIO(text, newline=""))
    if has_header:
        next(reader)
    width = "the header has" if has_header else "line 1 has"
    idx = [header.index(c) for c in wanted]
    rows: list[list[str]] = []
    lines: list[int] = []
    spans: dict[int, int] = {}  # first line → last line of a row with quoted newlines
    broken: list[tuple[int, str, str]] = []
    prev = reader.line_num

    def record(n: int) -> str:
        return "\n".join(raw_line(k) for k in range(n, spans.get(n, n) + 1))

    for row in _rows(reader):
        start, prev = prev + 1, reader.line_num
        if prev > start:
            spans[start] = prev
        if len(row) == len(header):
            rows.append([row[i] for i in idx])
            lines.append(start)
        elif not row or (len(row) == 1 and not row[0].strip()):
            rows.append([""] * len(idx))  # a blank line: the caller skips it
            lines.append(start)
        else:
            broken.append((start, f"{len(row)} fields, {width} {len(header)}", record(start)))
    cols = {c: pd.Series([r[k] for r in rows], dtype=str) for k, c in enumerate(wanted)}
    blank = np.array([not raw_line(n).strip() and n not in spans for n in lines], dtype=bool)
    return Table(header, cols, np.array(lines, dtype=np.int64), broken, record, blank)


def _rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """The csv module's rows; its error (e.g. a field over its size limit) names the line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise csv.Error(f"line {getattr(reader, 'line_num', 0) + 1}: {exc}") from None


def _blank(raw: list[str], lines: np.ndarray) -> np.ndarray:
    """Blank lines among the data rows (Arrow reads them as rows of empty cells)."""
    empty = [n for n, text in enumerate(raw, 1) if not text.strip()]
    return np.isin(lines, empty) if empty else np.zeros(len(lines), dtype=bool)


# -- column parsing --------------------------------------------------------------------------


def _texts(col: pd.Series) -> pd.Series:
    return col.astype(object).where(col.notna(), "").astype(str).str.strip()


def missing(col: pd.Series) -> np.ndarray:
    """Cells with no value: null, empty, or a NaN/null word."""
    if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
        return col.isna().to_numpy()
    return _texts(col).str.lower().isin(MISSING_TEXT).to_numpy()


def to_float(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values, bad): missing cells are NaN and not bad; text that is not a number is bad."""
    if pd.api.types.is_bool_dtype(col.dtype):
        return np.full(len(col), np.nan), np.ones(len(col), dtype=bool)
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(len(col), dtype=bool)
    try:  # fast path: every cell is a number
        values = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.zeros(len(col), dtype=bool)
    except (ValueError, TypeError):
        pass
    text = _texts(col)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(values) & ~text.str.lower().isin(MISSING_TEXT).to_numpy()
    return values, bad


class Times(NamedTuple):
    """A time column read: ms since the epoch, and which cells could not be read (and why)."""

    ms: np.ndarray  # int64; 0 where bad
    bad: np.ndarray  # not readable as a time (naive and implausible included)
    naive: np.ndarray  # ISO texts without a UTC offset
    implausible: np.ndarray  # integers outside the plausible window in the file's unit
    unit: str | None  # the unit of the integer epochs (s, ms, us, ns); None: none held


def to_epoch_ms(
    col: pd.Series,
    naive_is_utc: bool,
    unit: str | None = None,
    lines: np.ndarray | None = None,
    now: int | None = None,
) -> Times:
    """A time column of ISO-8601 texts and/or integer epochs as ms since the epoch.

    Integer epochs are in ``unit`` (s, ms, us, ns) or, with None, the unit told
    from their magnitude (``connectors.feeds.timeunit``): a column the unit cannot
    be told of, or that is implausible in the unit given, is a ``TimeUnitError``.
    ``naive`` marks texts without a UTC offset; they parse as UTC when
    ``naive_is_utc`` (sources documented as UTC), else the caller rejects them.
    Typed Parquet timestamps are converted (naive ones are taken as UTC).
    """
    n = len(col)
    none = np.zeros(n, dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        t = col.dt.tz_convert("UTC").dt.tz_localize(None) if col.dt.tz is not None else col
        return Times(_dt_ms(t), col.isna().to_numpy(), none, none, None)
    at = np.arange(1, n + 1) if lines is None else lines
    ms = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_float_dtype(col.dtype):
        f = col.to_numpy(dtype=np.float64, na_value=np.nan)
        is_int = np.isfinite(f) & (np.floor(f) == f) & (np.abs(f) < 2.0**63)
        bad = ~is_int
        ints = (
            col.to_numpy(dtype=np.int64)
            if pd.api.types.is_integer_dtype(col.dtype) and not col.isna().any()
            else np.where(is_int, f, 0).astype(np.int64)
        )
        epochs = _epochs(ints[is_int], unit, at[is_int], now)
        ms[is_int], implausible = epochs.ms, none.copy()
        implausible[is_int] = epochs.out
        unit_found = epochs.unit if is_int.any() else None
        return Times(ms, bad | implausible, none, implausible, unit_found)
    text = _texts(col)
    is_int = text.str.fullmatch(_INT_RE).to_numpy(dtype=bool, na_value=False)
    implausible = none.copy()
    found: str | None = None
    if is_int.any():
        ints, over = _int64(text[is_int])
        epochs = _epochs(ints, unit, at[is_int], now)
        ms[is_int] = epochs.ms
        implausible[is_int] = epochs.out | over
        found = epochs.unit
    iso = ~is_int
    if iso.any():
        t = pd.to_datetime(text[iso], format="ISO8601", utc=True, errors="coerce")
        ms[iso] = _dt_ms(t.dt.tz_localize(None))
        bad[iso] = t.isna().to_numpy()
    naive = iso & ~bad
    if naive.any():
        has_offset = text[naive].str.fullmatch(_OFFSET_RE).to_numpy(dtype=bool, na_value=False)
        naive[naive] = ~has_offset
    if not naive_is_utc:
        bad |= naive
    return Times(ms, bad | implausible, naive, implausible, found)


def _epochs(ints: np.ndarray, unit: str | None, lines: np.ndarray, now: int | None) -> EpochTimes:
    """``epoch_to_ms`` of a column's integers (a refusal is a ``TimeUnitError`` naming lines)."""
    return epoch_to_ms(ints, unit, now=now, lines=lines.tolist())


def _int64(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer texts as int64, and which overflow it (they are no time in any unit)."""
    digits = text.str.lstrip("+-").str.lstrip("0")
    over = (
        (digits.str.len() > len(_INT64_MAX))
        | ((digits.str.len() == len(_INT64_MAX)) & (digits > _INT64_MAX))
    ).to_numpy(dtype=bool)
    ints = np.zeros(len(text), dtype=np.int64)
    ints[~over] = text[~over].astype(np.int64).to_numpy()
    return ints, over


def _dt_ms(t: pd.Series) -> np.ndarray:
    values = t.to_numpy(dtype="datetime64[ms]")
    out = values.view(np.int64).copy()
    out[np.isnat(values)] = 0
    return out
