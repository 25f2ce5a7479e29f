"""Integer epoch times: the unit told from the magnitude, implausible and mixed units refused."""

from __future__ import annotations

import numpy as np
import pytest

from connectors.feeds.timeunit import (
    EARLIEST_MS,
    FUTURE_SLACK_MS,
    TimeUnitError,
    bounds,
    check_unit,
    epoch_to_ms,
)

NOW = 1_700_000_000_000  # 2023-11-14T22:13:20Z: a fixed "now" for the upper bound
LATEST = NOW + FUTURE_SLACK_MS
T = 1_677_628_800_000  # 2023-03-01T00:00Z in ms


def read(values: list[int], unit: str | None = None) -> tuple[str, list[int], list[bool]]:
    got = epoch_to_ms(np.array(values, dtype=np.int64), unit, now=NOW)
    return got.unit, got.ms.tolist(), got.out.tolist()


@pytest.mark.parametrize(
    ("unit", "value"),
    [("s", T // 1000), ("ms", T), ("us", T * 1000 + 123), ("ns", T * 1_000_000 + 456_789)],
)
def test_each_unit_is_told_from_the_magnitude(unit: str, value: int) -> None:
    assert read([value, value + 60 * {"s": 1, "ms": 1000}.get(unit, 1)])[0] == unit
    assert read([value])[1] == [T]  # sub-millisecond parts dropped: bars open on the ms


@pytest.mark.parametrize(
    ("unit", "lo", "hi"),
    [
        ("s", EARLIEST_MS // 1000, LATEST // 1000),
        ("ms", EARLIEST_MS, LATEST),
        ("us", EARLIEST_MS * 1000, LATEST * 1000),
        ("ns", EARLIEST_MS * 1_000_000, LATEST * 1_000_000),
    ],
)
def test_plausible_window_boundaries(unit: str, lo: int, hi: int) -> None:
    assert bounds(unit, NOW) == (lo, hi)
    assert read([lo, hi]) == (unit, [EARLIEST_MS, LATEST // 1000 * 1000 if unit == "s" else LATEST],
                              [False, False])  # fmt: skip
    # one step outside: no unit fits (the windows are 1000x apart, each under 3x wide)
    for outside in (lo - 1, hi + 1):
        with pytest.raises(TimeUnitError, match="plausible in no time unit"):
            read([outside])
    # ... and with the rest of the file plausible, the odd value is marked out, not misread
    assert read([lo, hi + 1]) == (unit, [EARLIEST_MS, 0], [False, True])


def test_seconds_are_never_read_as_milliseconds() -> None:
    secs = [T // 1000 + 60 * k for k in range(3)]
    assert read(secs) == ("s", [T + 60_000 * k for k in range(3)], [False] * 3)
    with pytest.raises(TimeUnitError) as exc:  # the bug: epoch seconds taken for ms (1970)
        read(secs, "ms")
    msg = str(exc.value)
    assert "1970-01-20" in msg and "--time-unit s" in msg and "2023-03-01" in msg
    assert "\n" not in msg


def test_mixed_units_in_one_file_are_refused_naming_the_lines() -> None:
    values = np.array([T // 1000, T // 1000 + 60, T + 120_000], dtype=np.int64)
    with pytest.raises(TimeUnitError, match=r"mixed time units: line 2 .* s, line 4 .* ms"):
        epoch_to_ms(values, now=NOW, lines=[2, 3, 4])


def test_given_unit_marks_implausible_rows_and_refuses_a_wholly_implausible_column() -> None:
    assert read([T, 5], "ms") == ("ms", [T, 0], [False, True])
    with pytest.raises(TimeUnitError, match="outside 1990-01-01"):
        read([5, 6], "s")
    with pytest.raises(TimeUnitError, match=r"after year 9999|outside"):
        read([T * 1_000_000], "s")  # far past any calendar: still one clear line


def test_units_spelled() -> None:
    assert check_unit("auto") is None and check_unit(None) is None and check_unit("us") == "us"
    with pytest.raises(TimeUnitError, match="use auto, s, ms, us, ns"):
        check_unit("sec")
    assert read([]) == ("ms", [], [])
