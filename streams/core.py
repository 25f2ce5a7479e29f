"""The desk core in the stream: the in-process engine fused into one Faust agent.

The stateful nodes that trade — data quality, quotes, the paper venue, the
portfolio, the strategies, risk — run here as one engine (``streams.engine``,
built from ``streams.topology``), exactly as in a backtest: each input goes
through the whole cascade before the next. Everything they emit is published,
keyed by the catalog, for the sinks, reconciliation, parity, alerts and the
audit, which stay agents of their own. This is operator chaining (Flink's word
for it): co-partitioned nodes fused into one task, so a replay through the
broker, at any speed, produces the very events of the in-process engine.

``market.bars`` is one partition per desk, written in event-time order by the
feed, so the core sees the bars in the order the engine would. Operator
commands (``risk.commands``) are applied between bars, as they arrive.

The state — every node's, with the input offsets it reflects and an outbox of
the latest events — is checkpointed to PostgreSQL write-behind
(``streams.writebehind``) on a cadence: an input is acknowledged to the broker
only once a checkpoint holding it is saved. A restarted worker takes it back:
on the same broker it skips what the state already holds; on a broker that
started empty it keeps the state, drops the offsets and publishes the outbox
again (consumers know events by id). A config that changed since the
checkpoint keeps the money (accounts, books, risk's states and reservations)
and starts the market-derived state (indicators, data-quality windows) afresh.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import pickle
import time
import zlib
from collections import deque
from typing import Any

from connectors.postgres.checkpoint import AgentCheckpoint
from connectors.retry import until_done
from streams.avro import AvroError
from streams.engine import Engine, Output, load
from streams.incarnation import offsets_valid
from streams.kafka import EventProducer
from streams.metrics import EVENTS_IN, EVENTS_OUT, PROCESSING, child, observe
from streams.topics import key_of
from streams.topology import NODES, core_agent
from streams.writebehind import Checkpointer

NAME = "desk-core"
OUTBOX = 2000  # the latest events, published again after a broker restart
CHECKPOINT_EVERY_S = 1.0  # at most one save a second: inputs are acked in batches
log = logging.getLogger(__name__)


def config_fingerprint(config: Any) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


class CoreShell:
    """Consume, run the engine under one lock, publish, dead-letter, checkpoint, restore."""

    def __init__(self, desk: Any, engine: Engine | None = None) -> None:
        self.desk = desk
        self.engine = engine or Engine.for_desk(desk.config)
        self.fingerprint = config_fingerprint(desk.config)
        self.lock = asyncio.Lock()
        self.offsets: dict[str, int] = {}  # "topic/partition" -> the last input in the state
        self.outbox: deque[tuple[str, str, dict[str, Any]]] = deque(maxlen=OUTBOX)
        self.restored = False
        # librdkafka, not Faust's producer: aiokafka holds one batch per partition and an
        # append waits while it is in flight, so a cascade's sends went one round trip each
        # (~90 bars/s); here they batch (``linger.ms``) and the checkpoint waits for them
        self.producer = EventProducer(desk.bootstrap, desk.settings.topic_prefix)
        settings = desk.settings
        dsn = settings.postgres_dsn
        self.checkpoint = (
            None
            if dsn is None
            else AgentCheckpoint(dsn.get_secret_value(), f"{settings.topic_prefix}{NAME}")
        )
        self.keepers: list[Any] = []  # built once the nodes are restored
        self.saver: Checkpointer[Any] | None = None
        if self.checkpoint is not None:
            self.saver = Checkpointer(
                f"{NAME}-checkpoint", self.lock, self._capture, self._save,
                min_interval_s=CHECKPOINT_EVERY_S,
            )  # fmt: skip
            desk.writers.append(self.saver)

    # -- the state -------------------------------------------------------------------------

    def _capture(self) -> tuple[bytes, dict[str, Any], dict[str, int]]:
        """Under the lock: the engine and the outbox as they are now (pickled: fast, exact),
        and what the nodes show of their state to people and drills (JSON: books)."""
        blob = pickle.dumps((self.engine.nodes, list(self.outbox)), protocol=5)
        views = {n: p.view() for n, p in self.engine.nodes.items() if hasattr(p, "view")}
        return blob, views, dict(self.offsets)

    def _save(self, captured: tuple[bytes, dict[str, Any], dict[str, int]]) -> None:
        """Every event the saved inputs produced is on the broker before they are acked."""
        blob, views, offsets = captured
        assert self.checkpoint is not None
        self.producer.flush()
        state = {
            "engine": base64.b64encode(zlib.compress(blob, 1)).decode(),
            "views": views,
            "config": self.fingerprint,
            "incarnation": self.desk.incarnation,
        }
        self.checkpoint.save(state, offsets)

    async def restore(self) -> None:
        self.restored = True
        await self._take_back()
        for node in NODES:
            if node.keeper is not None and node.name in self.engine.nodes:
                keeper = load(node.keeper)(self.desk, self.engine.nodes[node.name],
                                           self._publish_one)  # fmt: skip
                self.keepers.append(keeper)
                await keeper.started(lambda fn, n=node.name: self._act(n, fn))

    async def _act(self, name: str, fn: Any) -> None:
        out = self.engine.out = Output()
        self.engine.act(name, fn)
        await self._publish(out)

    def _publish_one(self, topic: str, event: dict[str, Any]) -> None:
        self.producer.send(topic, key_of(topic, event), event)
        child(EVENTS_OUT, NAME, topic).inc()

    async def _take_back(self) -> None:
        if self.checkpoint is None:
            return
        saved = await until_done(f"{NAME} checkpoint load", self.checkpoint.load)
        if saved is None:
            return
        nodes, outbox = pickle.loads(zlib.decompress(base64.b64decode(saved.state["engine"])))
        if saved.state.get("config") == self.fingerprint:
            self.engine.nodes.update(nodes)
        else:
            log.warning("%s: the desk config changed since the checkpoint: accounts, books and "
                        "risk carried over, indicators start afresh", NAME)  # fmt: skip
            self.engine.carry_over(nodes)
        self.outbox.extend(outbox)
        if offsets_valid(saved.incarnation, self.desk.incarnation):
            self.offsets.update(saved.offsets)
            return
        log.warning("%s: new broker incarnation (%s, was %s): saved offsets dropped, %d events "
                    "published again", NAME, self.desk.incarnation, saved.incarnation,
                    len(self.outbox))  # fmt: skip
        for topic, key, event in list(self.outbox):
            self.producer.send(topic, key, event)

    # -- one input -------------------------------------------------------------------------

    async def apply(self, topic: str, event: Any) -> None:
        if self.saver is not None:
            await self.saver.room()  # the store is far behind: wait (not holding the lock)
        async with self.lock:
            if not self.restored:
                await self.restore()
            msg = event.message
            where = f"{msg.topic}/{msg.partition}"
            if self.offsets.get(where, -1) < msg.offset:  # else re-delivered: in the state
                t0 = time.perf_counter()
                out = self.engine.out = Output()
                try:
                    if self.engine.takes(topic, event.value):
                        self.engine.feed(topic, event.value)
                    for keeper in self.keepers:
                        keeper.after(out.events)
                except Exception as exc:  # a bug must not stop the desk: keep the input
                    await self.desk.dead_letter_event(event, agent=NAME, error=exc,
                                                      kind="processing")  # fmt: skip
                await self._publish(out, event)
                for keeper in self.keepers:  # a command applied: durable before what follows
                    await keeper.settle()
                await self._dead_letters(event, out)
                for (node, t), n in out.taken.items():
                    child(EVENTS_IN, node, t).inc(n)
                for (node, t), n in out.emitted.items():
                    child(EVENTS_OUT, node, t).inc(n)
                for t, _key, ev in out.events:
                    observe(t, ev)
                child(PROCESSING, NAME).observe(time.perf_counter() - t0)
                self.offsets[where] = msg.offset
                self.desk.progressed(NAME, int(event.value.get("ts_event") or 0))
            if self.saver is None:  # nothing to save: acked once its events are sent
                self.producer.flush()
                event.ack()
            else:
                await self.saver.applied([event])

    async def _publish(self, out: Output, cause: Any = None) -> None:
        for topic, key, ev in out.events:
            try:
                self.producer.send(topic, key, ev)
            except AvroError as exc:  # an output its schema cannot carry: said, not a crash
                # loop (the input would come back after a restart and fail the same way)
                if cause is None:  # a timer's output: no input to keep, the log says it
                    log.error("desk core: output on %s not encodable: %s", topic, exc)
                    continue
                await self.desk.dead_letter_event(
                    cause, agent=NAME, error=f"output on {topic} not encodable: {exc}",
                    kind="encode",
                )  # fmt: skip
                continue
            self.outbox.append((topic, key, ev))

    async def _dead_letters(self, event: Any, out: Output) -> None:
        for _bar, why in out.invalid:
            await self.desk.dead_letter_event(event, agent="data-quality", error=why,
                                              kind="validation")  # fmt: skip
        by_node_kind: dict[tuple[str, str], list[str]] = {}
        for r in out.rejected:
            by_node_kind.setdefault((r.node, r.kind), []).append(r.reason)
        for (node, kind), whys in by_node_kind.items():  # one letter per node and kind
            await self.desk.dead_letter_event(event, agent=node, error="; ".join(whys), kind=kind)

    def ticker(self, name: str) -> Any:
        """A node's wall-clock tick (a live feed's silent streams), under the lock."""

        async def tick() -> None:
            async with self.lock:
                if self.restored:
                    proc = self.engine.nodes[name]
                    await self._act(name, lambda ctx: proc.tick(int(time.time() * 1000), ctx))

        return tick

    def consumer(self, topic: str) -> Any:
        async def consume(stream: Any) -> None:
            async for event in stream.noack().events():
                await self.apply(topic, event)

        return consume


def register(desk: Any) -> None:
    """One Faust agent per input of the fused nodes, all on one engine under one lock."""
    shell = CoreShell(desk)
    desk.core = shell
    for topic in shell.engine.inputs(desk.config):
        channel = desk.topics[topic] if topic == "market.bars" else desk.sink_topic(topic)
        desk.app.agent(channel, name=core_agent(topic))(shell.consumer(topic))
    for name, proc in shell.engine.nodes.items():
        every = getattr(proc, "tick_seconds", None)
        if every:
            desk.app.timer(every, name=f"{NAME}-{name}-tick")(shell.ticker(name))
