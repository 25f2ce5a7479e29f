"""Every paper account of the desk, built from the config, with events routed to topics.

One :class:`PaperVenue` per (venue, account) whose venue is in paper mode; an
account is funded with the starting cash of the bots that trade on it. Order
events go to ``orders.events``, fills to ``fills``; each account reports
once per ``report_every_seconds`` of event time, on the first bar past the
boundary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from agents.paper_venue.core import PaperVenue
from streams.config import DeskConfig
from streams.topics import Routed, account_key, venue_topic


class PaperDesk:
    """The paper venues of a desk config."""

    def __init__(self, config: DeskConfig) -> None:
        self.venues: dict[tuple[str, str], PaperVenue] = {}
        self.report_every: dict[tuple[str, str], int] = {}
        funding: dict[tuple[str, str], Counter[str]] = {}
        fees: dict[tuple[str, str], str] = {}
        for bot in config.bots:
            vc = config.venue(bot.venue)
            if not bot.enabled or vc.mode != "paper":
                continue
            key = (bot.venue, bot.account)
            ccy = config.instrument(bot.venue, bot.symbols[0]).quote_currency
            funding.setdefault(key, Counter())[ccy] += bot.starting_cash  # type: ignore[assignment]
            fees.setdefault(key, bot.fee_profile)
            self.report_every[key] = vc.report_every_seconds * 1000
        for (venue, account), cash in sorted(funding.items()):
            vc = config.venue(venue)
            self.venues[(venue, account)] = PaperVenue(
                venue,
                account,
                config.fee_profiles[fees[(venue, account)]],
                seed=vc.seed,
                latency_ms=vc.latency_ms,
                volume_share=vc.volume_share,
                slippage_bps_per_share=vc.slippage_bps_per_share,
                market_fill=vc.market_fill,
                quotes={
                    i.symbol: i.quote_currency
                    for i in config.universe
                    if i.venue == venue and "/" not in i.symbol
                },
                balances={c: Decimal(v) for c, v in cash.items()},
            )
        self._reported: dict[tuple[str, str], int] = {}  # account -> last report period

    def to_state(self) -> dict[str, Any]:
        """Every paper account's state and its last report period (see ``PaperVenue``)."""
        return {
            "venues": {f"{v}:{a}": pv.to_state() for (v, a), pv in sorted(self.venues.items())},
            "reported": {f"{v}:{a}": p for (v, a), p in sorted(self._reported.items())},
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back a saved state; an account the config no longer has is left out."""
        for key, pv in self.venues.items():
            saved = state["venues"].get(f"{key[0]}:{key[1]}")
            if saved is not None:
                pv.restore(saved)
            period = state["reported"].get(f"{key[0]}:{key[1]}")
            if period is not None:
                self._reported[key] = int(period)

    def handles(self, venue: str, account: str) -> bool:
        return (venue, account) in self.venues

    def on_command(self, cmd: Mapping[str, Any]) -> list[Routed]:
        pv = self.venues.get((cmd.get("venue"), cmd.get("account")))  # type: ignore[arg-type]
        if pv is None:
            return []  # not a paper account: a live/sandbox connector serves it
        return [(venue_topic(e), account_key(e), e) for e in pv.on_command(cmd)]

    def on_bar(self, bar: Mapping[str, Any], quote: Mapping[str, Any] | None) -> list[Routed]:
        out: list[Routed] = []
        for (venue, account), pv in self.venues.items():
            if venue != bar["venue"]:
                continue
            events = pv.on_bar(bar, quote)
            ts = int(bar["ts_event"])
            period = ts // self.report_every[(venue, account)]
            if period > self._reported.setdefault((venue, account), period):
                self._reported[(venue, account)] = period
                events.append(pv.report(ts, correlation_id=bar["event_id"]))
            out += [(venue_topic(e), account_key(e), e) for e in events]
        return out

    def clock(self) -> int:
        """The latest event time any paper account has reached."""
        return max((pv._now for pv in self.venues.values()), default=0)

    def lost(self, stored_open: list[dict[str, Any]], reason: str) -> list[Routed]:
        """Close every order the store holds open that no paper account works (see
        ``PaperVenue.lost``)."""
        return [
            (venue_topic(e), account_key(e), e)
            for pv in self.venues.values()
            for e in pv.lost(stored_open, reason)
        ]

    def cancel_all(self, ts: int | None = None, reason: str = "kill switch") -> list[Routed]:
        return [
            (venue_topic(e), account_key(e), e)
            for pv in self.venues.values()
            for e in pv.cancel_all(ts=ts, reason=reason)
        ]
