"""Bar files as columns with line numbers, and vectorized column parsing that reports bad cells.

A file is read whole into string columns (CSV) or typed columns (Parquet), each
data row keeping its line number so a bad row can be reported where it is, with
its raw text. Parsing a column never raises on a bad cell: it returns the values
and a mask of the cells that could not be read, so one bad row costs one reject,
not the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from streams.errors import DeskError

# Cell texts that mean "no value": a missing price becomes NaN, a missing wide cell no bar.
MISSING_TEXT = ("", "nan", "+nan", "-nan", "null", "none", "n/a", "na")
_INT_RE = r"[+-]?\d+"
# epoch ms of 0001-01-01 and 9999-12-31: anything outside is not a time (e.g. a typo'd number)
_MS_RANGE = (-62_135_596_800_000, 253_402_300_799_999)
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


def read_header(path: Path) -> list[str]:
    """Column names of a CSV or Parquet file, stripped."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return [c.strip() for c in pq.read_schema(path).names]
    text = _text(path.read_bytes()[:65_536])
    first = text.split("\n", 1)[0]
    return [c.strip() for c in next(csv.reader([first.rstrip("\r")]), [])]


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def read_table(path: Path, columns: list[str] | None = None) -> Table:
    """The whole file (or only ``columns``) as a ``Table``; the format comes from the extension."""
    try:
        return _read_parquet(path, columns) if is_parquet(path) else _read_csv(path, columns)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DeskError(f"{path}: cannot read: {' '.join(str(exc).split())}") from None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:  # keep going: the bad bytes end up in a rejected cell
        return data.decode("utf-8-sig", errors="replace")


def _read_parquet(path: Path, columns: list[str] | None) -> Table:
    import pyarrow.parquet as pq

    tab = pq.read_table(path)
    header = [c.strip() for c in tab.column_names]
    tab = tab.rename_columns(header)
    frame = tab.select(columns or header).to_pandas()
    lines = np.arange(1, len(frame) + 1, dtype=np.int64)

    def raw_line(n: int) -> str:
        return ",".join(
            "" if v is None else str(v) for v in tab.slice(n - 1, 1).to_pylist()[0].values()
        )

    blank = np.zeros(len(frame), dtype=bool)
    return Table(header, {c: frame[c] for c in frame.columns}, lines, [], raw_line, blank)


def _read_csv(path: Path, columns: list[str] | None) -> Table:
    text = _text(path.read_bytes())
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    if not raw:
        raise DeskError(f"{path}: empty file")

    def raw_line(n: int) -> str:
        return raw[n - 1].rstrip("\r") if 0 < n <= len(raw) else ""

    header = [c.strip() for c in next(csv.reader([raw[0].rstrip("\r")]))]
    wanted = columns or header
    broken: list[tuple[int, str, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        line = row.number or 0
        reason = f"{row.actual_columns} fields, the header has {row.expected_columns}"
        broken.append((line, reason, row.text))
        return "skip"

    try:  # fast path: Arrow's C++ reader, serial so invalid rows carry their line number
        tab = pacsv.read_csv(
            io.BytesIO(text.encode()),
            read_options=pacsv.ReadOptions(use_threads=False, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=on_invalid, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                include_columns=wanted,
            ),
        )
    except pa.ArrowInvalid:
        tab = None
    # rows and line numbers line up unless a quoted value spans lines: then the csv module
    exact = all(b[0] and '"' not in b[2] for b in broken)
    if tab is not None and exact and tab.num_rows + len(broken) == len(raw) - 1:
        lines = np.arange(2, len(raw) + 1, dtype=np.int64)
        if broken:
            lines = lines[~np.isin(lines, [b[0] for b in broken])]
        cols = {
            c: pd.Series(tab.column(c).to_numpy(zero_copy_only=False), dtype=str) for c in wanted
        }
        return Table(header, cols, lines, sorted(broken), raw_line, _blank(raw, lines))
    return _read_csv_slow(text, header, wanted, raw_line)


def _read_csv_slow(
    text: str, header: list[str], wanted: list[str], raw_line: Callable[[int], str]
) -> Table:
    """Row by row with the csv module: for files with quoted newlines or odd rows Arrow refused."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    idx = [header.index(c) for c in wanted]
    rows: list[list[str]] = []
    lines: list[int] = []
    spans: dict[int, int] = {}  # first line → last line of a row with quoted newlines
    broken: list[tuple[int, str, str]] = []
    prev = reader.line_num

    def record(n: int) -> str:
        return "\n".join(raw_line(k) for k in range(n, spans.get(n, n) + 1))

    for row in reader:
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
            broken.append(
                (start, f"{len(row)} fields, the header has {len(header)}", record(start))
            )
    cols = {c: pd.Series([r[k] for r in rows], dtype=str) for k, c in enumerate(wanted)}
    blank = np.array([not raw_line(n).strip() and n not in spans for n in lines], dtype=bool)
    return Table(header, cols, np.array(lines, dtype=np.int64), broken, record, blank)


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


def to_epoch_ms(col: pd.Series, naive_is_utc: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ms since the epoch, bad, naive) of ISO-8601 texts or integer epoch ms.

    ``naive`` marks texts without a UTC offset; they parse as UTC when
    ``naive_is_utc`` (sources documented as UTC), else the caller rejects them.
    Typed Parquet timestamps are converted (naive ones are taken as UTC).
    """
    n = len(col)
    none = np.zeros(n, dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        t = col.dt.tz_convert("UTC").dt.tz_localize(None) if col.dt.tz is not None else col
        return _dt_ms(t), col.isna().to_numpy(), none
    if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_float_dtype(col.dtype):
        f = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(f) | (np.floor(f) != f) | (f < _MS_RANGE[0]) | (f > _MS_RANGE[1])
        return np.where(bad, 0, f).astype(np.int64), bad, none
    text = _texts(col)
    is_int = text.str.fullmatch(_INT_RE).to_numpy(dtype=bool, na_value=False)
    ms = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    if is_int.any():
        ints = pd.to_numeric(text[is_int], errors="coerce").to_numpy(dtype=np.float64)
        out = np.isnan(ints) | (ints < _MS_RANGE[0]) | (ints > _MS_RANGE[1])
        ms[is_int] = np.where(out, 0, ints).astype(np.int64)
        bad[is_int] = out
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
    return ms, bad, naive


def _dt_ms(t: pd.Series) -> np.ndarray:
    values = t.to_numpy(dtype="datetime64[ms]")
    out = values.view(np.int64).copy()
    out[np.isnat(values)] = 0
    return out
