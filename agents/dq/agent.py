"""Thin Faust agent: market.bars → data-quality core → market.bars.clean + dq.reports.

Sends are awaited: ``send_soon`` was no faster here and, on a 90k-bar replay,
filled Faust's producer buffer and stalled the worker now and then.
Per-stream freshness (last bar, open critical problems) is kept in the
``dq-freshness`` table, keyed like the input, so risk can fail closed on stale
or critical data. With ``stale_clock: wall`` (live feeds) a timer also reports
streams that went silent. A bar the core's containment rejects (future
timestamp, impossible value, unknown stream) is dead-lettered with its reason.
"""

from __future__ import annotations

import time
from typing import Any

from agents.dq.core import DataQualityCore, InvalidBar
from streams.metrics import EVENTS_IN, EVENTS_OUT
from streams.topics import spec, stream_key

NAME = "data-quality"
TICK_SECONDS = 5.0


def register(desk: Any) -> None:
    app = desk.app
    source = desk.topics["market.bars"]
    clean_topic, reports_topic = desk.topics["market.bars.clean"], desk.topics["dq.reports"]
    freshness = app.Table(
        "dq-freshness",
        default=dict,
        partitions=spec("market.bars").partitions,
        help="Per venue:symbol: last bar, staleness and open critical data-quality problems.",
    )
    desk.tables["dq-freshness"] = freshness  # risk reads it to fail closed
    core = DataQualityCore.from_config(desk.config)

    async def publish(reports: list[dict[str, Any]]) -> None:
        for report in reports:
            await reports_topic.send(key=stream_key(report).encode(), value=report)
            EVENTS_OUT.labels(NAME, "dq.reports").inc()

    @app.agent(source, name=NAME)
    async def data_quality(stream: Any) -> None:
        async for event in stream.events():
            EVENTS_IN.labels(NAME, "market.bars").inc()
            bar = event.value
            try:
                outcome = core.process(bar)
            except InvalidBar as exc:
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="validation")
                continue
            except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
                await desk.dead_letter_event(event, agent=NAME, error=exc, kind="processing")
                continue
            if outcome.rejection is not None:  # containment: counted, kept with the reason
                await desk.dead_letter_event(
                    event, agent=NAME, error=outcome.rejection.line(), kind="validation"
                )
            if outcome.clean is not None:
                await clean_topic.send(key=event.key, value=outcome.clean)
                EVENTS_OUT.labels(NAME, "market.bars.clean").inc()
            await publish(outcome.reports())
            state = core.freshness(bar["venue"], bar["symbol"], bar["interval"])
            if state is not None:
                freshness[stream_key(bar)] = {**freshness[stream_key(bar)], bar["interval"]: state}

    if desk.config.data_quality.stale_clock == "wall":

        @app.timer(TICK_SECONDS, name=f"{NAME}-stale-clock")
        async def stale_clock() -> None:
            await publish([f.event() for f in core.tick(int(time.time() * 1000))])
