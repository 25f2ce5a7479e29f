"""The parity node: is the paper fill model honest about what the venue really did?

A shadow paper venue (the config's ``parity.shadow`` fill model) takes the same
``orders.commands`` and clean bars as the real venue; the realized order events
and fills come from the venue's topics. When event time (the bars) is one whole
window past a window's end, that window is compared per bot (``core.compare``):
a ``ParityReport`` on ``parity.reports``, and a WARNING alert when the model
looked better than reality. The events of reported windows are dropped, so
memory stays at about two windows (bars as the four fields marks need).

A node of the fused core (``streams.core``): it takes its inputs in causal order — a
command before the bars after it, the venue's answer after the command — and its state
is checkpointed with the core's, so a restart resumes its windows. (In the agent shell
it took the four topics in arrival order: bars running ahead of the order flow fed the
shadow venue bars before the commands they followed, and left the last windows
unreported for good.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from agents.paper_venue.desk import PaperDesk
from agents.parity.core import SOURCE, Marks, Stats, compare, shadow_config, stats, window_of
from agents.quotes.core import SyntheticQuoter
from streams.config import DeskConfig
from streams.envelope import caused_by
from streams.ids import event_id

MARK_FIELDS = ("venue", "symbol", "ts_event", "close")
KINDS = ("commands", "events", "fills", "shadow_events", "shadow_fills")


def wanted(config: DeskConfig) -> bool:
    """Parity runs when there is a paper venue to check, or a shadow model asked for."""
    return config.parity.enabled and any(
        config.venue(b.venue).mode == "paper" or config.parity.shadow for b in config.bots
    )


class ParityNode:
    def __init__(self, config: DeskConfig, peers: Mapping[str, Any] | None = None) -> None:
        self.active = wanted(config)
        self.cfg = config.parity
        self.shadow = PaperDesk(shadow_config(config))
        self.quoter = SyntheticQuoter(config.market_data)
        self.size = self.cfg.window_minutes * 60_000
        self.held: dict[str, list[dict[str, Any]]] = defaultdict(list)  # kind -> events kept
        self.sent: dict[str, int] = {}  # client order id -> the window it was sent in
        self.clock = 0
        self.checked = -1  # the window of the clock when windows were last closed

    def window(self, ts: int) -> int:
        return window_of(ts, self.cfg.window_minutes)

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Any) -> None:
        if not self.active:
            return
        if topic == "orders.commands":
            if event["command"] == "SUBMIT":
                self.held["commands"].append(dict(event))
                self.sent[event["client_order_id"]] = self.window(int(event["ts_event"]))
            self._shadow([e for _t, _k, e in self.shadow.on_command(event)])
        elif topic == "market.bars.clean":
            self._shadow([e for _t, _k, e in self.shadow.on_bar(event, self.quoter.quote(event))])
            self.held["bars"].append({k: event[k] for k in MARK_FIELDS})  # all Marks read
            self.clock = max(self.clock, int(event["ts_event"]))
            # a window falls due only when the clock enters a new one: look then, not on
            # every bar (the look walks every command held)
            if self.window(self.clock) != self.checked:
                self.checked = self.window(self.clock)
                self._close_windows(ctx)
        elif topic == "fills":
            self._keep("fills", [event])
        elif topic == "orders.events":
            self._keep("events", [event])

    def _shadow(self, out: list[dict[str, Any]]) -> None:
        self._keep("shadow_fills", [e for e in out if "trade_id" in e])
        self._keep("shadow_events", [e for e in out if "status" in e])

    def _keep(self, kind: str, events: list[Mapping[str, Any]]) -> None:
        for e in events:
            if self.sent.get(e["client_order_id"]) is not None:
                self.held[kind].append(dict(e))

    def _close_windows(self, ctx: Any) -> None:
        """Compare every window that ended a whole window ago; drop what it held."""
        held, size = self.held, self.size
        due = sorted({self.window(int(c["ts_event"])) for c in held["commands"]
                      if self.window(int(c["ts_event"])) + 2 * size <= self.clock})  # fmt: skip
        if not due:
            return
        marks = Marks(held["bars"])
        for start in due:
            cids = {c["client_order_id"] for c in held["commands"]
                    if self.window(int(c["ts_event"])) == start}  # fmt: skip
            mine = {k: [e for e in held.get(k, []) if e.get("client_order_id") in cids]
                    for k in KINDS}  # fmt: skip
            exp = stats(mine["commands"], mine["shadow_events"], mine["shadow_fills"], marks,
                        self.cfg.window_minutes)  # fmt: skip
            real = stats(mine["commands"], mine["events"], mine["fills"], marks,
                         self.cfg.window_minutes)  # fmt: skip
            for (bot, w), st in sorted(exp.items()):
                r = compare(bot, w, st, real.get((bot, w), Stats()), self.cfg, marks, w + size)
                ctx.emit("parity.reports", r)
                if r["status"] == "WARNING":
                    ctx.emit("alerts", self._alert(bot, r))
            for k, v in held.items():
                if k != "bars":
                    held[k] = [e for e in v if e.get("client_order_id") not in cids]
            for cid in cids:
                self.sent.pop(cid, None)
        keep_from = self.clock - 3 * size
        held["bars"] = [b for b in held["bars"] if int(b["ts_event"]) >= keep_from]

    @staticmethod
    def _alert(bot: str, r: Mapping[str, Any]) -> dict[str, Any]:
        bad = [m["name"] for m in r["metrics"] if m["status"] == "WARNING"]
        return {
            **caused_by(r, event_id("alert", r["event_id"]), SOURCE),
            "severity": "WARNING",
            "dedup_key": f"parity:{bot}",
            "title": "Parity: the fill model looks optimistic",
            "message": f"{bot}: realized worse than expected on {', '.join(bad)}",
            "bot_id": bot,
            "venue": None,
            "symbol": None,
            "evidence": {m["name"]: f"{m['expected']} -> {m['realized']}" for m in r["metrics"]},
        }
