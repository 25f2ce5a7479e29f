"""A pass-through agent: market.bars in, the same events out on market.bars.clean.

The ceiling the desk is measured against (``bench.bench_desk``): the worker's own
plumbing — Faust's consumer, decoding, the librdkafka producer the fused core
publishes with, the checkpoint-free ack — and no work at all.
"""

from __future__ import annotations

from typing import Any

from streams.kafka import EventProducer
from streams.topics import key_of

NAME = "bench-passthrough"


def register(desk: Any) -> None:
    producer = EventProducer(desk.bootstrap, desk.settings.topic_prefix)

    @desk.app.agent(desk.topics["market.bars"], name=NAME)
    async def passthrough(stream: Any) -> None:
        async for event in stream.events():
            producer.send("market.bars.clean", key_of("market.bars.clean", event.value),
                          event.value)  # fmt: skip
