"""The agent shell: a processing node outside the desk core, run as Faust agents.

A node is a plain object with ``handle(topic, event, ctx)`` that calls
``ctx.emit(topic, event)`` for what it makes — the same interface as the core's
nodes (``streams.engine``). The shell owns everything around it: one agent per
input declared in ``streams.topology`` (named there), one lock over the node (its
inputs take turns), per-node metrics, a dead letter with the reason for an input
the node fails on (the desk carries on), and the publish, keyed by the topic
catalog (``streams.topics.key_of``), never at a send site. Adding such a node is
one declaration and one core.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from streams.metrics import EVENTS_IN, EVENTS_OUT, child
from streams.topics import key_of
from streams.topology import NODES


def wall_ms() -> int:
    """The arrival clock a node may ask for (graces on the wall; findings stay in event
    time)."""
    return int(time.time() * 1000)


class _Emitted:
    """The context a node gets for one input: what it emits, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, topic: str, event: dict[str, Any]) -> None:
        self.events.append((topic, event))


class NodeShell:
    """Consume, decode (Faust), run the node under its lock, publish, count, dead-letter."""

    def __init__(self, desk: Any, name: str, node: Any) -> None:
        self.desk, self.name, self.node = desk, name, node
        self.lock = asyncio.Lock()
        self.declared = next(n for n in NODES if n.name == name)

    def register(self) -> None:
        """One agent per declared input, under the declared name."""
        for inp in self.declared.inputs:
            channel = self.desk.sink_topic(inp.topic)
            self.desk.app.agent(channel, name=inp.agent)(self.consumer(inp.topic))

    def consumer(self, topic: str) -> Any:
        async def consume(stream: Any) -> None:
            async for event in stream.events():
                await self.apply(topic, event)

        return consume

    async def apply(self, topic: str, event: Any) -> None:
        child(EVENTS_IN, self.name, topic).inc()
        ctx = _Emitted()
        try:
            async with self.lock:
                self.node.handle(topic, event.value, ctx)
        except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
            await self.desk.dead_letter_event(event, agent=self.name, error=exc,
                                              kind="processing")  # fmt: skip
        for out_topic, out in ctx.events:  # what it made before failing still goes out
            await self.desk.topics[out_topic].send(key=key_of(out_topic, out).encode(), value=out)
            child(EVENTS_OUT, self.name, out_topic).inc()


def serve(desk: Any, name: str, node: Any) -> NodeShell:
    """Run ``node`` as the declared node ``name`` of this desk."""
    shell = NodeShell(desk, name, node)
    shell.register()
    return shell
