"""Pre-trade risk for the whole desk: what the risk agent and the in-process loop both run.

Builds each intent's ``RiskContext`` from three inputs that arrive as events:
the bot's latest ``PortfolioSnapshot`` (position, exposure, equity, PnL), the
stream's data-quality freshness state (last clean close as the mark, stale and
critical flags) and the trading states changed by ``RiskCommand`` events. A
missing input is passed on as unknown, so the core denies: nothing is
approved by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from agents.risk.core import PreTradeRisk, RiskContext
from agents.risk.state import Applied, TradingStates
from streams.config import DeskConfig
from streams.ids import event_id

SOURCE = "agent.risk"


def exposures(snapshot: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """(gross, net) market value of a snapshot's positions, in its quote currency."""
    values = [Decimal(p["market_value"]) for p in snapshot["positions"]]
    return sum((abs(v) for v in values), Decimal(0)), sum(values, Decimal(0))


def latest_state(freshness: Mapping[str, Mapping[str, Any]] | None) -> Mapping[str, Any] | None:
    """Of a stream's per-interval freshness states, the one with the latest bar."""
    if not freshness:
        return None
    return max(freshness.values(), key=lambda s: (s.get("last_bar_close") or -1, s["interval"]))


class RiskDesk:
    """Trading states + the pre-trade core, fed with the desk's own events."""

    def __init__(self, config: DeskConfig) -> None:
        self.config = config
        self.states = TradingStates(config)
        self.core = PreTradeRisk()
        self.bots = {b.id: b for b in config.bots}

    def context(
        self,
        intent: Mapping[str, Any],
        snapshot: Mapping[str, Any] | None,
        freshness: Mapping[str, Mapping[str, Any]] | None,
    ) -> RiskContext:
        bot_id = intent["bot_id"]
        bot = self.bots.get(bot_id)
        allowed = frozenset(f"{bot.venue}:{s}" for s in bot.symbols) if bot else frozenset()
        limits = self.states.limits(bot_id) if bot_id in self.states.bots else self.config.limits
        state = latest_state(freshness)
        critical: tuple[str, ...] = ()
        mark = mark_ts = None
        if state is not None:
            mark, mark_ts = state.get("last_close"), state.get("last_bar_close")
            critical = tuple(
                sorted({*state.get("critical", ()), *(["stale"] if state.get("stale") else [])})
            )
        position = gross = net = equity = peak = daily = None
        if snapshot is not None:
            position = sum(
                (
                    Decimal(p["quantity"])
                    for p in snapshot["positions"]
                    if p["venue"] == intent["venue"] and p["symbol"] == intent["symbol"]
                ),
                Decimal(0),
            )
            gross, net = exposures(snapshot)
            equity, peak = Decimal(snapshot["equity"]), Decimal(snapshot["peak_equity"])
            daily = Decimal(snapshot["daily_pnl"])
        return RiskContext(
            account=bot.account if bot else "?",
            allowed_symbols=allowed,
            limits=limits,
            trading_state=self.states.state(bot_id),
            kill=self.states.killed(bot_id),
            mark=mark,
            mark_ts=mark_ts,
            data_critical=critical,
            position=position,
            gross_exposure=gross,
            net_exposure=net,
            equity=equity,
            peak_equity=peak,
            daily_pnl=daily,
        )

    def decide(
        self,
        intent: Mapping[str, Any],
        snapshot: Mapping[str, Any] | None,
        freshness: Mapping[str, Mapping[str, Any]] | None,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return self.core.decide(intent, self.context(intent, snapshot, freshness))

    def command(
        self, cmd: Mapping[str, Any], books: Mapping[str, Mapping[str, Any] | None] | None = None
    ) -> tuple[Applied, list[dict[str, Any]]]:
        """Apply a ``RiskCommand``; the cancel-all ``OrderCommand`` s it calls for, one per bot,
        then (``flatten``, off by default) a market order closing each position the bot's
        latest book holds, after its cancel on the same partition."""
        applied = self.states.apply(cmd)
        cancels = []
        for b in applied.cancel:
            bot = self.bots[b]
            cancels.append(
                {
                    "event_id": event_id("command", cmd["event_id"], b),
                    "ts_event": cmd["ts_event"],
                    "ts_ingest": cmd["ts_ingest"],
                    "source": SOURCE,
                    "correlation_id": cmd["event_id"],
                    "bot_id": b,
                    "venue": bot.venue,
                    "account": bot.account,
                    "command": "CANCEL_ALL",
                    "symbol": None,
                    "client_order_id": None,
                    "side": None,
                    "order_type": None,
                    "quantity": None,
                    "limit_price": None,
                    "time_in_force": "GTC",
                    "decision_id": None,
                    "reason": f"{cmd['command']} by {cmd['issued_by']}: {cmd['reason']}",
                }
            )
            if cmd.get("flatten") and books is not None:
                cancels += self._flatten(cmd, b, books.get(b))
        return applied, cancels

    def _flatten(
        self, cmd: Mapping[str, Any], bot_id: str, book: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        bot = self.bots[bot_id]
        out = []
        for p in (book or {}).get("positions", ()):
            qty = Decimal(p["quantity"])
            if not qty or p["venue"] != bot.venue:
                continue
            oid = event_id("flatten", cmd["event_id"], bot_id, p["symbol"])
            out.append(
                {
                    "event_id": event_id("command", oid),
                    "ts_event": cmd["ts_event"],
                    "ts_ingest": cmd["ts_ingest"],
                    "source": SOURCE,
                    "correlation_id": cmd["event_id"],
                    "bot_id": bot_id,
                    "venue": bot.venue,
                    "account": bot.account,
                    "command": "SUBMIT",
                    "symbol": p["symbol"],
                    "client_order_id": f"{bot_id}-flat-{oid[:18]}",
                    "side": "SELL" if qty > 0 else "BUY",
                    "order_type": "MARKET",
                    "quantity": abs(qty),
                    "limit_price": None,
                    "time_in_force": "GTC",
                    "decision_id": None,
                    "reason": f"flatten: {cmd['command']} by {cmd['issued_by']}: {cmd['reason']}",
                }
            )
        return out
