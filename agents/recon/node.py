"""The reconciliation node: fills, order events and venue reports in; findings
(``recon.reports``), their alerts and, for critical ones, REDUCE commands out.

The three topics are keyed by venue account, so one account's events meet in one
worker. A restarted worker re-baselines each account on its next report
(``Reconciler(rebaseline=True)``). Run by the agent shell (``streams.shell``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agents.recon.desk import follow_ups, reconciler
from streams.config import DeskConfig


class ReconNode:
    def __init__(self, config: DeskConfig, clock: Callable[[], int]) -> None:
        self.config = config
        self.recon = reconciler(config, rebaseline=True)
        self.clock = clock  # arrival time, for the graces (findings stay in event time)

    def handle(self, topic: str, event: Mapping[str, Any], ctx: Any) -> None:
        if topic == "fills":
            self.recon.on_fill(event, self.clock())
        elif topic == "orders.events":
            self.recon.on_order_event(event)
        elif topic == "venue.reports":
            for report in self.recon.on_report(event, self.clock()):
                ctx.emit("recon.reports", report)
                for out_topic, out in follow_ups(self.config, report):
                    ctx.emit(out_topic, out)
