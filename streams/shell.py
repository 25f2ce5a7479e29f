"""The agent shell: every processing node outside the desk core, run as Faust agents.

Two shapes, both wired from the declaration in ``streams.topology`` (one Faust agent
per declared input, under the declared name), so adding a node is one declaration
and one core, and no module outside ``streams/`` calls ``app.agent`` or ``app.timer``:

* **an event node** (``serve``): a plain object with ``handle(topic, event, ctx)``
  that calls ``ctx.emit(topic, event)`` for what it makes — the interface of the
  core's nodes (``streams.engine``). The shell runs it under one lock (its inputs
  take turns), in a worker thread if it blocks (``blocking = True``: an exchange),
  awaits it if it is a coroutine, publishes what it emitted keyed by the topic
  catalog (``streams.topics.key_of``, never at a send site), counts, and
  dead-letters an input the node fails on with the reason (the desk carries on). A
  node's declared ``timers`` are its methods of those names, called with a context
  every ``timer_seconds``.
* **a batch writer** (``serve_batches``): a sink. Batches of up to ``batch`` events
  or ``within_s`` seconds are written behind (``streams.writebehind``): the consumer
  hands a batch over and goes on; the writer's ``write(topic, values)`` runs in a
  thread, retried with backoff while the store is away (``transient``), and only
  then are the events acknowledged, so offsets are committed after the write and a
  crash re-delivers what is not yet stored (every writer is idempotent). An event
  the store refuses is dead-lettered with the reason; the rest of its batch lands.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.retry import until_done
from streams.kafka import event_time_headers
from streams.metrics import (
    EVENTS_IN,
    EVENTS_OUT,
    PROCESSING,
    SINK_BATCH,
    SINK_RETRIES,
    SINK_ROWS,
    SINK_WRITE_SECONDS,
    child,
    observe,
)
from streams.redact import error_text
from streams.topics import key_of
from streams.topology import BY_NAME, DEADLETTER
from streams.writebehind import RowBuffer

log = logging.getLogger(__name__)


def wall_ms() -> int:
    """The arrival clock a node may ask for (graces on the wall; findings stay in event
    time)."""
    return int(time.time() * 1000)


class _Emitted:
    """The context a node gets for one input (or one timer tick): what it emits, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, topic: str, event: dict[str, Any]) -> None:
        self.events.append((topic, event))


class NodeShell:
    """Consume, decode (Faust), run the node under its lock, publish, count, dead-letter."""

    def __init__(self, desk: Any, name: str, node: Any) -> None:
        self.desk, self.name, self.node = desk, name, node
        self.lock = asyncio.Lock()
        self.declared = BY_NAME[name]
        self.blocking = bool(getattr(node, "blocking", False))
        # a node whose input is the dead-letter topic never dead-letters (it would feed itself)
        self.dead_letters = all(i.topic != DEADLETTER for i in self.declared.inputs)

    def register(self) -> None:
        """One agent per declared input, under the declared name; one timer per declared timer."""
        for inp in self.declared.inputs:
            channel = self.desk.sink_topic(inp.topic)
            self.desk.app.agent(channel, name=inp.agent)(self.consumer(inp.topic))
        for timer in self.declared.timers:
            tick = self.ticker(timer)
            self.desk.app.timer(self.node.timer_seconds, name=f"{self.name}-{timer}")(tick)

    def consumer(self, topic: str) -> Any:
        async def consume(stream: Any) -> None:
            async for event in stream.events():
                await self.apply(topic, event)

        return consume

    def ticker(self, timer: str) -> Any:
        async def tick() -> None:
            ctx = _Emitted()
            try:
                await self._run(getattr(self.node, timer), ctx)
            except Exception as exc:  # a timer has no input to keep: say why, try next time
                log.warning("%s %s failed, next in %.0f s: %s", self.name, timer,
                            self.node.timer_seconds, error_text(exc))  # fmt: skip
            await self.publish(ctx)

        tick.__name__ = tick.__qualname__ = timer  # the declared timer's name
        return tick

    async def _run(self, fn: Callable[..., Any], *args: Any) -> None:
        async with self.lock:
            if self.blocking:
                result = await asyncio.to_thread(fn, *args)
            else:
                result = fn(*args)
            if inspect.isawaitable(result):
                await result

    async def apply(self, topic: str, event: Any) -> None:
        child(EVENTS_IN, self.name, topic).inc()
        t0 = time.perf_counter()
        ctx = _Emitted()
        try:
            await self._run(self.node.handle, topic, event.value, ctx)
        except Exception as exc:  # a bug must not stop the desk: keep the input, carry on
            if self.dead_letters:
                await self.desk.dead_letter_event(event, agent=self.name, error=exc,
                                                  kind="processing")  # fmt: skip
            else:
                log.error("%s failed on %s: %s", self.name, topic, error_text(exc))
        await self.publish(ctx)  # what it made before failing still goes out
        child(PROCESSING, self.name).observe(time.perf_counter() - t0)

    async def publish(self, ctx: _Emitted) -> None:
        for out_topic, out in ctx.events:
            await self.desk.topics[out_topic].send(
                key=key_of(out_topic, out).encode(),
                value=out,
                # produce time is the record's timestamp (what retention reads); event time
                # rides in a header, as from every producer of the desk (streams.kafka)
                headers=event_time_headers(out["ts_event"]) if "ts_event" in out else None,
            )
            child(EVENTS_OUT, self.name, out_topic).inc()
            observe(out_topic, out)


def serve(desk: Any, name: str, node: Any) -> NodeShell:
    """Run ``node`` as the declared node ``name`` of this desk."""
    shell = NodeShell(desk, name, node)
    shell.register()
    return shell


@dataclass(frozen=True)
class Refused:
    """An event of a batch the writer did not store, and why (``kind`` of dead letter)."""

    index: int
    error: BaseException | str
    kind: str = "sink"


class BatchWriter(Protocol):
    """A sink's store side: what ``serve_batches`` needs of it."""

    batch: int  # events per write, at most
    within_s: float  # a partial batch is written after this long

    def transient(self, exc: BaseException) -> bool:
        """Retry (the store is away) rather than fail the batch."""
        ...

    def write(self, topic: str, values: Sequence[dict[str, Any]]) -> tuple[int, Sequence[Any]]:
        """Store the batch: (rows written, the events refused, each with ``index`` and
        ``error``, optionally ``kind``). Blocking; raises only on a failure to retry."""
        ...


def serve_batches(desk: Any, name: str, writer: BatchWriter) -> None:
    """Run ``writer`` as the declared sink ``name``: one write-behind buffer per input."""
    for inp in BY_NAME[name].inputs:
        _batches(desk, name, inp.topic, inp.agent, writer)


def _batches(desk: Any, name: str, topic: str, agent: str | None, writer: BatchWriter) -> None:
    retried = SINK_RETRIES.labels(name, topic).inc

    batch_rows, write_s = SINK_BATCH.labels(name, topic), SINK_WRITE_SECONDS.labels(name, topic)

    async def write(events: list[Any]) -> None:
        values = [e.value for e in events]
        batch_rows.observe(len(values))
        t0 = time.perf_counter()
        written, refused = await until_done(
            f"{name} write ({topic})",
            lambda: writer.write(topic, values),
            transient=writer.transient,
            on_retry=retried,
        )
        for r in refused:
            if topic == DEADLETTER:  # never dead-letter a dead letter (no loops)
                log.error("%s: dead letter not stored: %s", name, r.error)
                continue
            await desk.dead_letter_event(events[r.index], agent=name, error=r.error,
                                         kind=getattr(r, "kind", "sink"))  # fmt: skip
        SINK_ROWS.labels(name, topic).inc(written)
        write_s.observe(time.perf_counter() - t0)

    # write-behind: a stalled store holds rows here (bounded), not the consumer every agent shares
    rows = RowBuffer(f"{name}-{topic}", write, batch=writer.batch)
    desk.writers.append(rows)

    async def consume(stream: Any) -> None:
        # ``noack_take``, not ``take_events``: Faust's ``take_events`` acks every event of a
        # batch once the loop body returns, ``noack()`` or not; here that is at hand-over, so
        # offsets were committed before the rows were written (a crash lost them), and the
        # RowBuffer's own ack took a second reference off a message other agents still held
        async for batch in stream.noack().noack_take(writer.batch, within=writer.within_s):
            events = list(batch)
            EVENTS_IN.labels(name, topic).inc(len(events))
            await rows.add(events)

    desk.app.agent(desk.sink_topic(topic), name=agent)(consume)
