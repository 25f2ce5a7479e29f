"""The desk's exchange accounts in sandbox or live mode, behind one routing object.

Built from the config: one :class:`CcxtVenue` per (venue, account) whose venue
``mode`` is ``sandbox`` or ``live`` (live only with the environment flag too;
see :func:`make_venue`). Commands go to the exchange; the exchange's own
executions are polled and published once each as ``fills``, attributed to the
bot that placed the order (by the ``<bot>-`` client id prefix, else the venue
order id); an execution of an order the desk never placed keeps bot ``*`` and
is dead-lettered by the portfolio, for reconciliation to explain. The account's
``VenueReport`` goes to ``venue.reports``. The paper venue serves every other
account.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.venues.ccxt_venue import ANY_BOT, CcxtVenue, make_venue
from streams.config import DeskConfig
from streams.topics import Routed, account_key, venue_topic

Factory = Callable[[str, str, bool, list[str]], CcxtVenue]  # exchange, account, sandbox, symbols


def _default_factory(exchange: str, account: str, sandbox: bool, symbols: list[str]) -> CcxtVenue:
    return make_venue(exchange, live_config=not sandbox, sandbox=sandbox, account=account,
                      symbols=symbols)  # fmt: skip


class CcxtDesk:
    def __init__(self, config: DeskConfig, factory: Factory = _default_factory) -> None:
        self.bots = sorted((b.id for b in config.bots if b.enabled), key=len, reverse=True)
        wanted: dict[tuple[str, str], set[str]] = {}
        for bot in config.bots:
            if bot.enabled and config.venue(bot.venue).mode != "paper":
                wanted.setdefault((bot.venue, bot.account), set()).update(bot.symbols)
        self.venues: dict[tuple[str, str], CcxtVenue] = {}
        for (venue, account), symbols in sorted(wanted.items()):
            vc = config.venue(venue)
            self.venues[(venue, account)] = factory(
                vc.exchange or venue, account, vc.mode == "sandbox", sorted(symbols)
            )
        self._seen: set[str] = set()
        self._order_bot: dict[str, str] = {}  # venue order id -> bot (trades lack client ids)
        self._since: dict[tuple[str, str], int | None] = {k: None for k in self.venues}

    def bot_of(self, client_order_id: str) -> str:
        """The bot whose client order ids start with ``<bot>-`` (longest id first)."""
        return next((b for b in self.bots if client_order_id.startswith(f"{b}-")), ANY_BOT)

    def _routed(self, venue: str, account: str, events: list[dict[str, Any]]) -> list[Routed]:
        out = []
        for e in events:
            e = {**e, "venue": venue, "account": account}
            # the order's own client id names its owner (an account-wide cancel-all returns
            # other bots' orders too); executions carry only the venue's order id
            owner = self.bot_of(e.get("client_order_id") or "")
            if owner == ANY_BOT:
                owner = self._order_bot.get(e.get("venue_order_id") or "") or e.get("bot_id")
            e["bot_id"] = owner or ANY_BOT
            if e.get("venue_order_id") and e["bot_id"] != ANY_BOT:
                self._order_bot[e["venue_order_id"]] = e["bot_id"]
            if venue_topic(e) == "fills":
                if e["trade_id"] in self._seen:
                    continue  # already published (a poll overlaps the last one)
                self._seen.add(e["trade_id"])
            out.append((venue_topic(e), account_key(e), e))
        return out

    def on_command(self, cmd: Mapping[str, Any]) -> list[Routed]:
        key = (cmd.get("venue"), cmd.get("account"))
        cv = self.venues.get(key)  # type: ignore[arg-type]
        if cv is None:
            return []
        kind = cmd.get("command")
        if kind == "SUBMIT":
            events = cv.submit(dict(cmd))
        elif kind == "CANCEL":
            events = cv.cancel(dict(cmd))
        else:
            events = cv.cancel_all(cmd.get("symbol"), bot_id=cmd.get("bot_id") or ANY_BOT,
                                   correlation_id=cmd.get("event_id"))  # fmt: skip
        return self._routed(str(key[0]), str(key[1]), events)

    def poll(self) -> list[Routed]:
        """New executions of every account (each once) and each account's report."""
        out: list[Routed] = []
        for (venue, account), cv in self.venues.items():
            fills = cv.my_trades(self._since[(venue, account)])
            if fills:
                self._since[(venue, account)] = max(int(f["ts_event"]) for f in fills)
            out += self._routed(venue, account, fills)
            out += self._routed(venue, account, [cv.report()])
        return out
