"""Online end-of-day ingest: daily bars from an exchange through ccxt, written as the
end-of-day OHLCV file format (``eod.OHLCV``) so the rest of the daily pipeline reads them
like any other file, kept by content hash like any other raw input.

Only the rows an ingest needs (enabled tradables and benchmarks) that name a ``ccxt``
source (``exchange:SYMBOL``, e.g. ``binanceus:BTC/USD``) are fetched; every other row
says where its data must come from. Closed daily bars only, up to the as-of date:
the same exchange history gives the same file, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.daily.eod import OHLCV
from analytics.daily.universe import Instrument, needed

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Fetched:
    symbol: str
    source: str  # "binanceus:BTC/USD"
    path: Path | None
    rows: int
    first: str | None
    last: str | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "source": self.source,
            "file": str(self.path) if self.path else None,
            "rows": self.rows,
            "first": self.first,
            "last": self.last,
            "error": self.error,
        }


def plan(universe: Sequence[Instrument]) -> tuple[list[tuple[Instrument, str, str]], list[str]]:
    """(instrument, exchange id, ccxt symbol) for each needed row with a ccxt source, and
    the needed rows without one (files only)."""
    online: list[tuple[Instrument, str, str]] = []
    offline: list[str] = []
    for i in needed(universe):
        spec = i.sources.get("ccxt")
        if spec and ":" in spec:
            exchange, symbol = spec.split(":", 1)
            online.append((i, exchange, symbol))
        else:
            offline.append(i.symbol)
    return online, offline


def _num(x: float) -> str:
    return repr(float(x))


def to_csv(rows: Sequence[Sequence[float]]) -> bytes:
    """ccxt OHLCV rows (open ms, o, h, l, c, v) as the end-of-day file: Adj Close is
    Close (an exchange's spot bars have no corporate actions)."""
    out = [",".join(OHLCV)]
    for t, o, h, lo, c, v in (r[:6] for r in rows):
        day = dt.datetime.fromtimestamp(int(t) / 1000, dt.UTC).date().isoformat()
        out.append(",".join([day, _num(o), _num(h), _num(lo), _num(c), _num(c), _num(v)]))
    return ("\n".join(out) + "\n").encode()


def fetch_eod(
    universe: Sequence[Instrument],
    as_of: dt.date,
    days: int,
    out: Path,
    exchange_for: Callable[[str], Any],
    on_symbol: Callable[[str], None] | None = None,
) -> tuple[list[Fetched], list[str]]:
    """Fetch ``days`` daily bars ending with ``as_of`` for each row with a ccxt source into
    ``out``; a symbol that fails is reported with its reason, the others still fetched."""
    from connectors.feeds.ccxt_feed import fetch_history

    online, offline = plan(universe)
    until = int(dt.datetime.combine(as_of, dt.time(), dt.UTC).timestamp() * 1000) + DAY_MS
    since = until - days * DAY_MS
    done: list[Fetched] = []
    for inst, exchange_id, symbol in online:
        source = f"{exchange_id}:{symbol}"
        if on_symbol is not None:
            on_symbol(inst.symbol)
        try:
            rows = fetch_history(exchange_for(exchange_id), symbol, "1d", since, until)
        except Exception as exc:  # one symbol's outage is its line, not the run
            msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            done.append(Fetched(inst.symbol, source, None, 0, None, None, msg[:300]))
            continue
        if not rows:
            done.append(Fetched(inst.symbol, source, None, 0, None, None, "no closed daily bar"))
            continue
        body = to_csv(rows)
        first, last = (body.decode().splitlines()[k][:10] for k in (1, -1))
        path = out / f"{inst.symbol}_ohlcv_{exchange_id}_{first}_{last}.csv"
        out.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        done.append(Fetched(inst.symbol, source, path, len(rows), first, last))
    return done, offline
