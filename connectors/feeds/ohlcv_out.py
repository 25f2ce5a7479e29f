"""Writing bars in the desk's generic OHLCV file format (CSV or Parquet).

Columns ``venue,symbol,interval,open_time,open,high,low,close,volume``;
``open_time`` is ISO-8601 UTC text (``2023-03-01T00:00:00+00:00``) in both
formats, so a file reads the same whichever way it was written. The file is
written beside its target and renamed into place: an interrupted download never
leaves a half-written file under the real name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from streams.errors import DeskError

COLUMNS = ["venue", "symbol", "interval", "open_time", "open", "high", "low", "close", "volume"]
FORMATS = {".csv": "csv", ".parquet": "parquet"}


def iso_utc(ms: int) -> str:
    """``2023-03-01T00:00:00+00:00`` for an epoch-ms time."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def file_format(path: Path) -> str:
    """``csv`` or ``parquet`` from the file extension; anything else is an operator error."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise DeskError(
            f"output file {path}: use a .csv or .parquet extension (got {path.suffix or 'none'})"
        ) from None


def ohlcv_frame(
    venue: str, symbol: str, interval: str, rows: Sequence[Sequence[float]]
) -> pd.DataFrame:
    """Rows ``[open_time_ms, open, high, low, close, volume]`` as a generic-format frame."""
    frame = pd.DataFrame(
        [[venue, symbol, interval, iso_utc(int(r[0])), *map(float, r[1:6])] for r in rows],
        columns=COLUMNS,
    )
    return frame.astype({c: "float64" for c in COLUMNS[4:]})


def write_ohlcv(frame: pd.DataFrame, path: Path) -> Path:
    """Write the frame to ``path`` (format from the extension), atomically."""
    fmt = file_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
