"""Pure core of the bars pass-through: structural validation (the agent counts in a table)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class InvalidBar(ValueError):
    """A bar that cannot be processed at all (dead-lettered, never silently dropped)."""


class BarPassThrough:
    """Checks a bar's structure; a bar that passes goes on unchanged."""

    def process(self, bar: Mapping[str, Any]) -> Mapping[str, Any]:
        for name in ("venue", "symbol", "interval"):
            if not bar.get(name):
                raise InvalidBar(f"bar {bar.get('event_id')}: empty {name}")
        if bar["open_time"] > bar["ts_event"]:
            raise InvalidBar(
                f"bar {bar['event_id']}: open_time {bar['open_time']} "
                f"after ts_event {bar['ts_event']}"
            )
        return bar
