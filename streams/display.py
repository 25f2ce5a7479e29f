"""How every ``desk`` table and number looks: readable at 80 columns, exact, never cut.

An operator must tell rows apart at a glance on a narrow terminal: a stream is
shown ``BTC/USDC@binanceus`` (the symbol, which tells USDC from USDT, comes
first) and the columns that name a row fold onto a second line rather than end
in ``…``. Decimals arrive at scale 18 (``1.500000000000000000``, ``0E-18``);
``num`` shows the same number as short as it really is, never in exponent form.
JSON output keeps the wire names (``venue:symbol``); only what people read changes.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from streams.decimals import tidy

INTERVAL = re.compile(r"\d+[smhdwM]")  # 1m, 5m, 1h, 1d, 1w, 1M


def stream_label(stream: str, symbol: str | None = None) -> str:
    """``binanceus:BTC/USDC`` (or venue and symbol apart) -> ``BTC/USDC@binanceus``.

    The symbol first: a column too narrow for the whole label cuts the venue,
    not the quote currency that tells two streams of one venue apart. Anything
    without a ``venue:`` part is shown as is; ``venue:symbol:1m`` (a replay's
    stream with its interval) is ``symbol@venue 1m``.
    """
    if symbol is not None:
        return f"{symbol}@{stream}"
    venue, sep, rest = stream.partition(":")
    if not (sep and rest):
        return stream
    head, colon, tail = rest.rpartition(":")
    if colon and INTERVAL.fullmatch(tail):  # a replay's venue:symbol:interval
        return f"{head}@{venue} {tail}"
    return f"{rest}@{venue}"


def num(x: Any) -> str:
    """A decimal for display: trailing zeros dropped, never ``0E-18`` or ``1E+2``.

    ``None`` is blank; anything that is not a number is shown as it is.
    """
    if x is None or x == "":
        return ""
    if isinstance(x, bool):
        return str(x)
    try:
        d = tidy(x) if isinstance(x, Decimal | int | str) else tidy(Decimal(repr(x)))
    except (InvalidOperation, ValueError, TypeError):
        return str(x)
    if not d.is_finite():
        return str(d)
    if d == 0:
        return "0"
    return format(d, "f")


def console(stderr: bool = False) -> Console:
    """The CLI's console: a message is one line however long (the terminal folds it;
    a log, a pipe or ``grep`` keeps it whole). Tables still fit the width."""
    return Console(stderr=stderr, soft_wrap=True)


KEY_WIDTH = 24  # a key column keeps up to this many characters on one line
OTHER_WIDTH = 5  # what any other wrapping column is left at the least


class DeskTable(Table):
    """A ``Table`` whose key columns (``key_columns``, by index) get room for their whole
    values (up to ``KEY_WIDTH``) before any other wrapping column, at render time.

    (rich cuts a ``no_wrap`` column with ``…`` when the table is too wide, so only short
    numbers are ``no_wrap``; everything else may fold, the keys last.)"""

    key_columns: tuple[int, ...] = ()

    def __rich_console__(self, console: Any, options: Any) -> Any:
        widths = [max([_width(column.header)] + [_width(c) for c in column.cells])
                  for column in self.columns]  # fmt: skip
        fixed = sum(w for w, c in zip(widths, self.columns, strict=True) if c.no_wrap)
        others = [
            min(widths[i], OTHER_WIDTH)
            for i, c in enumerate(self.columns)
            if not c.no_wrap and i not in self.key_columns
        ]
        # what the keys may take: the width less the one-line columns, the two-character
        # gaps between columns and a few characters for every other column (rich cuts, or
        # drops, a column when the minimum widths add up to more than the terminal has);
        # the narrowest keys are served first, the rest share what is left
        room = options.max_width - fixed - 2 * len(self.columns) - sum(others)
        keys = sorted(self.key_columns, key=lambda i: widths[i])
        for n, i in enumerate(keys):
            share = max(room // (len(keys) - n), OTHER_WIDTH)
            self.columns[i].min_width = min(widths[i], KEY_WIDTH, share)
            room -= self.columns[i].min_width
        return super().__rich_console__(console, options)


def _width(cell: Any) -> int:
    return len(Text.from_markup(cell).plain if isinstance(cell, str) else str(cell))


def desk_table(
    *columns: str,
    title: str | None = None,
    caption: str | None = None,
    keys: tuple[str, ...] = (),
    numbers: tuple[str, ...] = (),
    left: tuple[str, ...] = (),
) -> DeskTable:
    """A compact table (no side borders, one rule under the header) that fits 80 columns.

    ``keys``: the columns that tell rows apart; they get the room for their values
    first and fold onto more lines past ``KEY_WIDTH``, never end in ``…``.
    ``numbers`` are right-aligned and kept on one line (they are short); ``left``
    columns (times, states) are given their room before other wrapping columns but
    fold too when they must. Every other column wraps at spaces and folds long words.
    """
    t = DeskTable(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for name in columns:
        if name in numbers:
            t.add_column(name, justify="right", no_wrap=True)
        else:
            t.add_column(name, overflow="fold")
    t.key_columns = tuple(i for i, name in enumerate(columns) if name in keys or name in left)
    return t


def print_table(
    console: Console,
    table: Table,
    rows: int | None = None,
    noun: str = "row",
    plural: str | None = None,
) -> None:
    """The table, then ``N rows`` on a line of its own under it, on the table's stream
    (a count on stderr lands wherever the terminal is, e.g. across the table's border)."""
    console.print(table)
    if rows is not None:
        console.print(f"{rows} {noun if rows == 1 else plural or noun + 's'}", highlight=False)
