"""The data-quality node: market.bars → clean bars and findings (``streams.engine``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.dq.core import DataQualityCore, InvalidBar
from streams.config import DeskConfig


class DataQualityNode:
    def __init__(self, config: DeskConfig, peers: Mapping[str, Any]) -> None:
        self.core = DataQualityCore.from_config(config)
        # live feeds: a stream that went silent is found on the wall clock (streams.core)
        self.tick_seconds = 5.0 if config.data_quality.stale_clock == "wall" else None

    def tick(self, now_ms: int, ctx: Any) -> None:
        for finding in self.core.tick(now_ms):
            ctx.emit("dq.reports", finding.event())

    def handle(self, topic: str, bar: Mapping[str, Any], ctx: Any) -> None:
        try:
            outcome = self.core.process(bar)
        except InvalidBar as exc:
            ctx.invalid(bar, str(exc))
            return
        if outcome.rejection is not None:
            ctx.reject("market.bars", bar, outcome.rejection.line())
        for report in outcome.reports():
            ctx.emit("dq.reports", report)
        if outcome.clean is not None:
            ctx.emit("market.bars.clean", outcome.clean)

    def view(self) -> dict[str, Any]:
        """Per stream and interval, the freshness risk fails closed on (as the checkpoint
        shows it: ``desk`` drills and tests read it)."""
        out: dict[str, dict[str, Any]] = {}
        for venue, symbol, _interval in self.core.streams:
            out[f"{venue}:{symbol}"] = self.freshness(venue, symbol)
        return {"freshness": out}

    def freshness(self, venue: str, symbol: str) -> dict[str, dict[str, Any]]:
        """Per interval: the freshness state the DQ agent keeps in ``dq-freshness``."""
        states = {}
        for (v, s, interval), _checker in self.core.streams.items():
            if v == venue and s == symbol:
                state = self.core.freshness(v, s, interval)
                if state is not None:
                    states[interval] = state
        return states
