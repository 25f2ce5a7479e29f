"""Thin Faust agents: the parity check in the stream.

A shadow paper venue (the config's ``parity.shadow`` fill model) takes the same
``orders.commands`` and clean bars as the real venue; the realized order events
and fills come from the venue's topics. When event time (the bars) is one whole
window past a window's end, that window is compared per bot (``core.compare``):
a ``ParityReport`` on ``parity.reports``, and a WARNING alert when the model
looked better than reality. The events of reported windows are dropped, so
memory stays at about two windows. The shadow restarts empty with the worker (its
first window after a restart compares fewer orders).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from agents.paper_venue.desk import PaperDesk
from agents.parity.core import SOURCE, Marks, Stats, compare, shadow_config, stats, window_of
from agents.quotes.core import SyntheticQuoter
from streams.envelope import caused_by
from streams.ids import event_id
from streams.metrics import EVENTS_IN, EVENTS_OUT

NAME = "parity"


def register(desk: Any) -> None:
    config = desk.config
    cfg = config.parity
    if not any(config.venue(b.venue).mode == "paper" or cfg.shadow for b in config.bots):
        return
    shadow = PaperDesk(shadow_config(config))
    quoter = SyntheticQuoter(config.market_data)
    size = cfg.window_minutes * 60_000
    held: dict[str, list[dict[str, Any]]] = defaultdict(list)  # kind -> events kept
    sent: dict[str, int] = {}  # client order id -> the window it was sent in
    serial = asyncio.Lock()
    clock = 0
    checked = -1  # the window of the clock when windows were last closed

    def window(ts: int) -> int:
        return window_of(ts, cfg.window_minutes)

    def sent_window(cid: str) -> int | None:
        return sent.get(cid)

    async def publish(topic: str, key: str, event: dict[str, Any]) -> None:
        await desk.topics[topic].send(key=key.encode(), value=event)
        EVENTS_OUT.labels(NAME, topic).inc()

    async def close_windows() -> None:
        """Compare every window that ended a whole window ago; drop what it held."""
        due = sorted({window(int(c["ts_event"])) for c in held["commands"]
                      if window(int(c["ts_event"])) + 2 * size <= clock})  # fmt: skip
        if not due:
            return
        marks = Marks(held["bars"])
        for start in due:
            cids = {c["client_order_id"] for c in held["commands"]
                    if window(int(c["ts_event"])) == start}  # fmt: skip
            mine = {
                k: [e for e in held.get(k, []) if e.get("client_order_id") in cids]
                for k in ("commands", "events", "fills", "shadow_events", "shadow_fills")
            }
            exp = stats(mine["commands"], mine["shadow_events"], mine["shadow_fills"], marks,
                        cfg.window_minutes)  # fmt: skip
            real = stats(mine["commands"], mine["events"], mine["fills"], marks,
                         cfg.window_minutes)  # fmt: skip
            for (bot, w), st in sorted(exp.items()):
                r = compare(bot, w, st, real.get((bot, w), Stats()), cfg, marks, w + size)
                await publish("parity.reports", bot, r)
                if r["status"] == "WARNING":
                    bad = [m["name"] for m in r["metrics"] if m["status"] == "WARNING"]
                    await publish("alerts", SOURCE, {
                        **caused_by(r, event_id("alert", r["event_id"]), SOURCE),
                        "severity": "WARNING", "dedup_key": f"parity:{bot}",
                        "title": "Parity: the fill model looks optimistic",
                        "message": f"{bot}: realized worse than expected on {', '.join(bad)}",
                        "bot_id": bot, "venue": None, "symbol": None,
                        "evidence": {m["name"]: f"{m['expected']} -> {m['realized']}"
                                     for m in r["metrics"]},
                    })  # fmt: skip
            for k, v in held.items():
                if k != "bars":
                    held[k] = [e for e in v if e.get("client_order_id") not in cids]
            for cid in cids:
                sent.pop(cid, None)
        keep_from = clock - 3 * size
        held["bars"] = [b for b in held["bars"] if int(b["ts_event"]) >= keep_from]

    def keep_venue_events(kind: str, events: list[dict[str, Any]]) -> None:
        for e in events:
            if sent_window(e["client_order_id"]) is not None:
                held[kind].append(e)

    @desk.app.agent(desk.sink_topic("orders.commands"), name=f"{NAME}-commands")
    async def commands(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "orders.commands").inc()
            cmd = event.value
            async with serial:
                if cmd["command"] == "SUBMIT":
                    held["commands"].append(cmd)
                    sent[cmd["client_order_id"]] = window(int(cmd["ts_event"]))
                out = [e for _t, _k, e in shadow.on_command(cmd)]
                keep_venue_events("shadow_fills", [e for e in out if "trade_id" in e])
                keep_venue_events("shadow_events", [e for e in out if "status" in e])

    @desk.app.agent(desk.sink_topic("market.bars.clean"), name=f"{NAME}-market")
    async def market(stream: Any) -> None:
        nonlocal clock, checked
        async for event in stream.events():
            bar = event.value
            try:
                async with serial:
                    out = [e for _t, _k, e in shadow.on_bar(bar, quoter.quote(bar))]
                    keep_venue_events("shadow_fills", [e for e in out if "trade_id" in e])
                    keep_venue_events("shadow_events", [e for e in out if "status" in e])
                    held["bars"].append(bar)
                    clock = max(clock, int(bar["ts_event"]))
                    # a window falls due only when the clock enters a new one: look then,
                    # not on every bar (the look walks every command held)
                    if window(clock) != checked:
                        checked = window(clock)
                        await close_windows()
            except Exception as exc:  # a bug must not stop the desk: keep it, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")

    @desk.app.agent(desk.sink_topic("fills"), name=f"{NAME}-fills")
    async def fills(stream: Any) -> None:
        async for event in stream.events():
            async with serial:
                keep_venue_events("fills", [event.value])

    @desk.app.agent(desk.sink_topic("orders.events"), name=f"{NAME}-events")
    async def order_events(stream: Any) -> None:
        async for event in stream.events():
            async with serial:
                keep_venue_events("events", [event.value])
