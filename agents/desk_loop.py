"""The desk's cores wired in one process: bars in, every topic's events out, in order.

This is the desk loop of the design without a broker: data quality → quotes →
paper venue (resting orders meet the new bar) → portfolio (fills, marks,
snapshots) and risk (its own books, portfolio risk on every snapshot) →
strategies → pre-trade risk → paper venue (new commands). The
agents run the very same objects, one per topic; the backtest, the demo and the
determinism tests run this loop. Nothing here reads a clock: the same bars,
config and seed give byte-identical events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.dq.containment import QuoteGate
from agents.dq.core import DataQualityCore, InvalidBar
from agents.portfolio.core import Portfolio
from agents.quotes.core import SyntheticQuoter
from agents.risk.desk import RiskDesk
from agents.strategies.runner import StrategyRunner
from connectors.venues.paper.desk import PaperDesk, Routed
from streams.avro import registry
from streams.config import DeskConfig
from streams.topics import spec, stream_key


@dataclass
class LoopOutput:
    """Every event the loop produced, as (topic, key, event), in production order."""

    events: list[Routed] = field(default_factory=list)
    invalid: list[tuple[Mapping[str, Any], str]] = field(default_factory=list)
    # containment: (topic of the rejected event, the event, "reason: detail"), what the
    # agents dead-letter
    rejected: list[tuple[str, Mapping[str, Any], str]] = field(default_factory=list)

    def topic(self, name: str) -> list[dict[str, Any]]:
        return [e for t, _k, e in self.events if t == name]


class DeskLoop:
    """``wire=True`` passes every event through its Avro encoding before the next core
    sees it, as the broker does (decimals come back at the schema's scale)."""

    def __init__(self, config: DeskConfig, *, wire: bool = False) -> None:
        self.config = config
        self.wire = wire
        self.dq = DataQualityCore.from_config(config)
        self.quoter = SyntheticQuoter(config.market_data)
        self.quote_gate = QuoteGate.from_config(config)
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
        if outcome.rejection is not None:
            self.out.rejected.append(("market.bars", bar, outcome.rejection.line()))
        for report in outcome.reports():
            self._emit("dq.reports", stream_key(report), report)
        if outcome.clean is None:
            return
        clean = self._emit("market.bars.clean", stream_key(outcome.clean), outcome.clean)
        quote = self.quoter.quote(clean)
        rejected = None if quote is None else self.quote_gate.check(quote)
        if rejected is not None:  # not published; the paper venue prices as its agent does
            self.out.rejected.append(("market.quotes", quote or {}, rejected.line()))
        elif quote is not None:
            quote = self._emit("market.quotes", stream_key(quote), quote)
        self._venue(self.venues.on_bar(clean, quote))
        for bot_id in self.portfolio.on_bar(clean):
            self._snapshot(bot_id, clean)
        for raw in self.strategies.on_bar(clean, self._last_snapshot.get):
            intent = self._emit("orders.intents", f"{raw['bot_id']}:{raw['symbol']}", raw)
            self.on_intent(intent)
        for _kind, why in self.strategies.drain_skipped():
            self.out.rejected.append(("market.bars.clean", clean, why))

    def on_intent(self, intent: Mapping[str, Any]) -> None:
        decision, command = self.risk.decide(intent, self.dq_freshness)
        self._emit("risk.decisions", f"{intent['bot_id']}:{intent['symbol']}", decision)
        self._risk_alerts()
        if command is not None:
            self._command(command)

    def _risk_alerts(self) -> None:
        for alert in self.risk.drain_alerts():
            self._emit("alerts", alert["source"], alert)

    def on_risk_command(self, cmd: Mapping[str, Any]) -> None:
        """A kill/halt/reduce/resume/limit change, as the operator or portfolio risk sends it."""
        cmd = self._emit("risk.commands", cmd["scope"], dict(cmd))
        _applied, cancels = self.risk.command(cmd)
        for c in cancels:
            self._command(c)

    def _measure(self, snap: Mapping[str, Any]) -> None:
        """Portfolio risk measures the new book inside risk: a breach acts before the next
        intent (its command, alerts and cancels come out here, in order)."""
        actions, orders = self.risk.on_snapshot(snap)
        for topic, ev in actions:
            self._emit(topic, ev["scope"] if topic == "risk.commands" else ev["source"], ev)
        for c in orders:
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

    def _command(self, raw: dict[str, Any]) -> None:
        cmd = self._emit("orders.commands", f"{raw['venue']}:{raw['account']}", raw)
        self._venue(self.venues.on_command(cmd))

    def _venue(self, routed: list[Routed]) -> None:
        for topic, key, raw in routed:
            event = self._emit(topic, key, raw)
            if topic == "fills":
                self.risk.on_fill(event)
                self._risk_alerts()
                book = self.portfolio.on_fill(event)
                self._snapshot(book.bot_id, event)
            elif topic == "orders.events":
                self.risk.on_order_event(event)

    def _snapshot(self, bot_id: str, cause: Mapping[str, Any]) -> None:
        snap = self.portfolio.snapshot(
            bot_id, int(cause["ts_event"]), cause["ts_ingest"], cause["event_id"]
        )
        self._last_snapshot[bot_id] = self._emit("portfolio.snapshots", bot_id, snap)
        self._measure(self._last_snapshot[bot_id])

    def _emit(self, topic: str, key: str, event: dict[str, Any]) -> dict[str, Any]:
        """Record an event; what the consumers get back (its wire form if ``wire``)."""
        if self.wire:
            reg = registry()
            event = reg.decode(reg.encode(spec(topic).value_schema, event))[1]
        self.out.events.append((topic, key, event))
        return event
