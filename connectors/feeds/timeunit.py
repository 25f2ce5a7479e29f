"""Integer epoch times in seconds, milliseconds, microseconds or nanoseconds, read safely.

Exchanges export all four (Binance's spot klines moved from ms to µs), and a
unit misread is silent: epoch seconds read as milliseconds are bars dated
1970-01-20 that parse fine. So a file's unit is either given (``--time-unit``)
or told from the magnitude, and the resulting times must be plausible: from
1990-01-01 to one day past now. The four units' plausible windows are 1000x
apart and each spans less than 3x, so a plausible value fits exactly one unit:
detection is never a guess. A file whose values fit no unit, or fit different
units, is refused (``TimeUnitError``, one line); values that fit none while the
rest of the file agrees on one unit are marked ``out`` for the reader to reject.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# unit -> (multiplier, divisor) from the unit to milliseconds
UNITS: dict[str, tuple[int, int]] = {
    "s": (1_000, 1),
    "ms": (1, 1),
    "us": (1, 1_000),
    "ns": (1, 1_000_000),
}
UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
EARLIEST_MS = 631_152_000_000  # 1990-01-01T00:00Z: no bar file the desk reads is older
FUTURE_SLACK_MS = 86_400_000  # a bar may open up to a day past now (clock skew, time zones)
SHOWN = 2  # example values in an error line


class TimeUnitError(ValueError):
    """The integer times of a column cannot be read safely; the message is one line."""


@dataclass(frozen=True)
class EpochTimes:
    """Integer epoch values read as ms: ``out`` marks values not plausible in ``unit``."""

    unit: str
    ms: np.ndarray  # int64 ms since the epoch; 0 where out
    out: np.ndarray  # bool


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def plausible_ms(now: int | None = None) -> tuple[int, int]:
    """The window of plausible bar times, in ms: [1990-01-01, now + 1 day]."""
    return EARLIEST_MS, (now_ms() if now is None else now) + FUTURE_SLACK_MS


def bounds(unit: str, now: int | None = None) -> tuple[int, int]:
    """The plausible window in ``unit`` (inclusive raw values)."""
    mul, div = UNITS[unit]
    lo, hi = plausible_ms(now)
    return -(-lo * div // mul), hi * div // mul


def fits(values: np.ndarray, unit: str, now: int | None = None) -> np.ndarray:
    """Which ``values`` (int64) are plausible times in ``unit``."""
    lo, hi = bounds(unit, now)
    return (values >= lo) & (values <= hi)


def to_ms(values: np.ndarray, unit: str) -> np.ndarray:
    """``values`` in ``unit`` as int64 ms (sub-millisecond parts dropped: bars open on the ms)."""
    mul, div = UNITS[unit]
    return values.astype(np.int64) * mul // div


def check_unit(unit: str | None) -> str | None:
    """``unit`` if it is one of s, ms, us, ns (``auto``/None: detect); else ``TimeUnitError``."""
    if unit is None or unit == "auto":
        return None
    if unit not in UNITS:
        raise TimeUnitError(f"unknown time unit {unit!r}; use auto, {', '.join(UNITS)}")
    return unit


def epoch_to_ms(
    values: np.ndarray,
    unit: str | None = None,
    *,
    now: int | None = None,
    lines: Sequence[int] | None = None,
) -> EpochTimes:
    """Integer epoch ``values`` (int64) as ms, in the ``unit`` given or told from their magnitude.

    ``lines`` (one per value) name rows in error messages. Refused, with a
    ``TimeUnitError``: no value plausible in any unit (auto) or in the unit
    given; plausible values of different units (mixed units).
    """
    values = np.asarray(values, dtype=np.int64)
    unit = check_unit(unit)
    at = list(lines) if lines is not None else list(range(1, len(values) + 1))
    now = now_ms() if now is None else now
    if len(values) == 0:
        return EpochTimes(unit or "ms", values.copy(), np.zeros(0, dtype=bool))
    fit = {u: fits(values, u, now) for u in UNITS}
    if unit is None:
        found = [u for u in UNITS if fit[u].any()]
        if not found:
            raise TimeUnitError(
                f"integer times are plausible in no time unit (s, ms, us, ns: none gives "
                f"{_window(now)}); {_examples(values, at)}"
            )
        if len(found) > 1:
            first = [int(np.argmax(fit[u])) for u in found]
            parts = [
                f"line {at[k]} ({values[k]}) reads as epoch {u}"
                for u, k in zip(found, first, strict=True)
            ]
            raise TimeUnitError(
                f"mixed time units: {', '.join(parts)}; one file holds one unit "
                "(split the file, or fix the odd rows)"
            )
        unit = found[0]
    elif not fit[unit].any():
        other = [u for u in UNITS if fit[u].all()]
        hint = (
            f"; they read as epoch {UNIT_NAMES[other[0]]} ({_span(values, other[0])}): "
            f"pass --time-unit {other[0]} or leave it out (told from the magnitude)"
            if other
            else f"; {_examples(values, at)}"
        )
        raise TimeUnitError(
            f"as epoch {UNIT_NAMES[unit]} (--time-unit {unit}) the times are "
            f"{_span(values, unit)}, outside {_window(now)}{hint}"
        )
    out = ~fit[unit]
    ms = np.where(out, 0, to_ms(np.where(out, 0, values), unit))
    return EpochTimes(unit, ms, out)


def _iso(ms: int) -> str:
    return np.datetime64(int(ms), "ms").astype("datetime64[s]").astype(str) + "Z"


def _span(values: np.ndarray, unit: str) -> str:
    """``first..last`` of ``values`` read in ``unit``, as dates."""
    mul, div = UNITS[unit]
    return "..".join(_date(int(v) * mul // div) for v in (values.min(), values.max()))


def _date(ms: int) -> str:
    if not _CALENDAR[0] <= ms <= _CALENDAR[1]:
        return "before year 1" if ms < 0 else "after year 9999"
    return _iso(ms)[:10]


_CALENDAR = (-62_135_596_800_000, 253_402_300_799_999)  # 0001-01-01 .. 9999-12-31, in ms


def _window(now: int) -> str:
    lo, hi = plausible_ms(now)
    return f"{_iso(lo)[:10]}..{_iso(hi)[:10]}"


def _examples(values: np.ndarray, at: Sequence[int]) -> str:
    shown = ", ".join(f"line {at[k]}: {values[k]}" for k in range(min(SHOWN, len(values))))
    return f"e.g. {shown}"
