"""The desk's cores wired in one process: bars in, every topic's events out, in order.

This is the desk loop of the design without a broker: data quality → quotes →
paper venue (resting orders meet the new bar) → portfolio (fills, marks,
snapshots) → strategies → pre-trade risk → paper venue (new commands). The
agents run the very same objects, one per topic; the backtest, the demo and the
determinism tests run this loop. Nothing here reads a clock: the same bars,
config and seed give byte-identical events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.dq.core import DataQualityCore, InvalidBar
from agents.portfolio.core import Portfolio
from agents.quotes.core import SyntheticQuoter
from agents.risk.desk import RiskDesk
from agents.strategies.runner import StrategyRunner
from connectors.venues.paper.desk import PaperDesk, Routed
from streams.config import DeskConfig
from streams.topics import stream_key


@dataclass
class LoopOutput:
    """Every event the loop produced, as (topic, key, event), in production order."""

    events: list[Routed] = field(default_factory=list)
    invalid: list[tuple[Mapping[str, Any], str]] = field(default_factory=list)

    def topic(self, name: str) -> list[dict[str, Any]]:
        return [e for t, _k, e in self.events if t == name]


class DeskLoop:
    def __init__(self, config: DeskConfig) -> None:
        self.config = config
        self.dq = DataQualityCore.from_config(config)
        self.quoter = SyntheticQuoter(config.market_data)
        self.venues = PaperDesk(config)
        self.portfolio = Portfolio.from_config(config)
        self.strategies = StrategyRunner(config)
        self.risk = RiskDesk(config)
        self.out = LoopOutput()
        self._last_snapshot: dict[str, dict[str, Any]] = {}

    # -- inputs -------------------------------------------------------------------------------

    def run(self, bars: Iterable[Mapping[str, Any]]) -> LoopOutput:
        for bar in bars:
            self.on_bar(bar)
        return self.out

    def on_bar(self, bar: Mapping[str, Any]) -> None:
        try:
            outcome = self.dq.process(bar)
        except InvalidBar as exc:
            self.out.invalid.append((bar, str(exc)))
            return
        for report in outcome.reports():
            self._emit("dq.reports", stream_key(report), report)
        clean = outcome.clean
        if clean is None:
            return
        self._emit("market.bars.clean", stream_key(clean), clean)
        quote = self.quoter.quote(clean)
        if quote is not None:
            self._emit("market.quotes", stream_key(quote), quote)
        self._venue(self.venues.on_bar(clean, quote))
        moved = {b.bot_id for b in self.portfolio.on_mark(clean)}
        for bot_id in sorted(
            moved | set(self.strategies.bots_for(clean["venue"], clean["symbol"]))
        ):
            self._snapshot(bot_id, clean)
        for intent in self.strategies.on_bar(clean, self._last_snapshot.get):
            self._emit("orders.intents", f"{intent['bot_id']}:{intent['symbol']}", intent)
            self.on_intent(intent)

    def on_intent(self, intent: Mapping[str, Any]) -> None:
        freshness = self.dq_freshness(intent["venue"], intent["symbol"])
        decision, command = self.risk.decide(
            intent, self._last_snapshot.get(intent["bot_id"]), freshness
        )
        self._emit("risk.decisions", f"{intent['bot_id']}:{intent['symbol']}", decision)
        if command is not None:
            self._command(command)

    def on_risk_command(self, cmd: Mapping[str, Any]) -> None:
        """A kill/halt/reduce/resume/limit change, as the operator or portfolio risk sends it."""
        self._emit("risk.commands", cmd["scope"], dict(cmd))
        _applied, cancels = self.risk.command(cmd)
        for c in cancels:
            self._command(c)

    # -- plumbing -----------------------------------------------------------------------------

    def dq_freshness(self, venue: str, symbol: str) -> dict[str, dict[str, Any]]:
        """The same per-interval state the DQ agent keeps in its ``dq-freshness`` table."""
        states = {}
        for (v, s, interval), _checker in self.dq.streams.items():
            if v == venue and s == symbol:
                state = self.dq.freshness(v, s, interval)
                if state is not None:
                    states[interval] = state
        return states

    def _command(self, cmd: dict[str, Any]) -> None:
        self._emit("orders.commands", f"{cmd['venue']}:{cmd['account']}", cmd)
        self._venue(self.venues.on_command(cmd))

    def _venue(self, routed: list[Routed]) -> None:
        for topic, key, event in routed:
            self._emit(topic, key, event)
            if topic == "fills":
                book = self.portfolio.on_fill(event)
                self._snapshot(book.bot_id, event)

    def _snapshot(self, bot_id: str, cause: Mapping[str, Any]) -> None:
        snap = self.portfolio.snapshot(
            bot_id, int(cause["ts_event"]), cause["ts_ingest"], cause["event_id"]
        )
        self._last_snapshot[bot_id] = snap
        self._emit("portfolio.snapshots", bot_id, snap)

    def _emit(self, topic: str, key: str, event: dict[str, Any]) -> None:
        self.out.events.append((topic, key, event))
