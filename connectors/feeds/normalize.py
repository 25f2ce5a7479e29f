"""Normalizing source rows into ``Bar`` events with event time and deterministic ids."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Any

from streams.envelope import envelope
from streams.ids import event_id

INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}


def interval_ms(interval: str) -> int:
    try:
        return INTERVAL_MS[interval]
    except KeyError:
        raise ValueError(
            f"unknown bar interval {interval!r}; known: {', '.join(INTERVAL_MS)}"
        ) from None


def bar_event(
    *,
    venue: str,
    symbol: str,
    interval: str,
    open_time_ms: int,
    open: float,
    high: float,
    low: float,
    close: float,
    volume: float,
    source: str,
    trades: int | None = None,
    adj_close: float | None = None,
) -> dict[str, Any]:
    """A ``Bar`` event: ``ts_event`` is the bar's close time, the id is UUIDv5 of its identity."""
    close_time = open_time_ms + interval_ms(interval)
    return {
        **envelope(event_id("bar", venue, symbol, interval, open_time_ms), close_time, source),
        "venue": venue,
        "symbol": symbol,
        "interval": interval,
        "open_time": open_time_ms,
        "open": float(open),
        "high": float(high),
        "low": float(low),
        "close": float(close),
        "volume": float(volume),
        "trades": trades,
        "adj_close": adj_close,
        "quality_flags": [],
    }


def merge_by_event_time(*streams: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Merge time-ordered bar streams into one, ordered by (ts_event, venue, symbol)."""
    return heapq.merge(*streams, key=lambda b: (b["ts_event"], b["venue"], b["symbol"]))
