"""Real bars that ship inside the ``backtesting`` wheel: the offline demo's data.

EUR/USD hourly (5,000 bars, 2017-2018) and GOOG daily (2,148 bars, 2004-2013)
are real recorded prices, available on any machine that installed deskplane.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.feeds.normalize import bar_event, merge_by_event_time

SAMPLES = {
    # name: (venue, symbol, interval)
    "EURUSD": ("sample", "EUR/USD", "1h"),
    "GOOG": ("sample", "GOOG", "1d"),
}


def _frame(name: str) -> Any:
    import backtesting.test as bt

    return getattr(bt, name)


def sample_bars(name: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Bars of one bundled sample, oldest first (timestamps are UTC)."""
    venue, symbol, interval = SAMPLES[name]
    frame = _frame(name)
    if limit is not None:
        frame = frame.iloc[:limit]
    times = frame.index.tz_localize("UTC").as_unit("ms").asi8
    for t, row in zip(times, frame.itertuples(index=False), strict=True):
        yield bar_event(
            venue=venue,
            symbol=symbol,
            interval=interval,
            open_time_ms=int(t),
            open=row.Open,
            high=row.High,
            low=row.Low,
            close=row.Close,
            volume=row.Volume,
            source="feed.sample",
        )


def demo_bars(limit_per_sample: int | None = None) -> Iterator[dict[str, Any]]:
    """Every bundled sample merged in event-time order."""
    return merge_by_event_time(*(sample_bars(n, limit_per_sample) for n in SAMPLES))
