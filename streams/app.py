"""The Faust app factory: catalog topics with the Avro codec, dead-lettering, agents.

Only this module (with ``streams.kafka``) knows Faust/Kafka settings. Agents
register through ``agents.register_all`` and see a ``DeskApp``: the Faust app,
the catalog topics by logical name, and ``dead_letter`` for input they reject.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import faust
from faust.serializers import codecs

from streams import faust_transport
from streams.avro import registry
from streams.config import DeskConfig, load_config
from streams.deadletter import dead_letter_record
from streams.incarnation import broker_incarnation
from streams.kafka import event_time_headers, event_time_s
from streams.metrics import AGENT_PROGRESS, DEAD_LETTERS, child
from streams.redact import install_log_redaction
from streams.settings import DeskSettings
from streams.topics import CATALOG, physical_name

log = logging.getLogger("deskplane.app")


class AvroCodec(codecs.Codec):
    """Faust codec for one event type: Avro single-object encoding over the catalog."""

    def __init__(self, schema_name: str, **kwargs: Any) -> None:
        super().__init__(schema_name=schema_name, **kwargs)
        self.schema_name = schema_name

    def _dumps(self, obj: Any) -> bytes:
        return registry().encode(self.schema_name, obj)

    def _loads(self, s: bytes) -> Any:
        return registry().decode(s, expect=self.schema_name)[1]


def plain(obj: Any) -> Any:
    """A JSON-safe copy for a table value: exact decimals as strings, containers walked."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    return obj


def codec_name(schema_name: str) -> str:
    return f"avro-{schema_name}"


def register_codecs() -> None:
    """Make ``avro-<Type>`` usable as a Faust ``value_serializer`` for every event type."""
    for name in registry().names():
        codecs.register(codec_name(name), AvroCodec(name))


class DeskTopic(faust.Topic):
    """A topic whose undecodable messages go to ``deadletter`` instead of crashing the agent."""

    async def on_key_decode_error(self, exc: Exception, message: Any) -> None:
        await self._dead_letter(exc, message)

    async def on_value_decode_error(self, exc: Exception, message: Any) -> None:
        await self._dead_letter(exc, message)

    async def _dead_letter(self, exc: Exception, message: Any) -> None:
        desk: DeskApp | None = getattr(self.app, "desk", None)
        if desk is None:  # not a desk app: keep Faust's behaviour
            await self.on_decode_error(exc, message)
            return
        await desk.dead_letter(
            agent="decoder",
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            raw=message.value,
            timestamp=event_time_s(message.timestamp, message.headers),
            error=exc.__cause__ or exc,
            kind="decode",
        )
        desk.decode_failed(desk.logical(message.topic), message.partition, message.offset)


class SinkTopic(DeskTopic):
    """A sink's view of a topic another agent already consumes: that agent dead-letters an
    undecodable message; the sink skips it (one dead letter per bad message, not two)."""

    async def _dead_letter(self, exc: Exception, message: Any) -> None:
        log.debug("sink skipped undecodable %s@%s", message.topic, message.offset)


class InputSensor(faust.Sensor):
    """When each agent last took an input, and the offset it took per partition: with the
    consumer's high watermarks this tells an agent that is stuck (input waiting, none
    taken) from one that is idle (nothing waiting). A Faust stream's prefix is its agent's
    name."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: dict[str, float] = {}  # agent -> wall time of its latest input
        self.offsets: dict[str, dict[Any, int]] = {}  # agent -> partition -> offset taken

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        name = str(getattr(stream, "prefix", "") or stream.shortlabel)
        self.taken[name] = time.time()
        self.offsets.setdefault(name, {})[tp] = offset
        return None

    def view(self, highwater: Callable[[Any], int | None], now: float) -> dict[str, Any]:
        """Agent -> inputs waiting on the partitions it reads, seconds since it took one."""
        out = {}
        for name, taken in sorted(self.taken.items()):
            waiting = 0
            for tp, offset in self.offsets.get(name, {}).items():
                try:
                    hw = highwater(tp)
                except Exception:  # not assigned here any more (rebalance): nothing known
                    hw = None
                if hw is not None:
                    waiting += max(0, int(hw) - offset - 1)
            out[name] = {"waiting": waiting, "since_input_s": round(now - taken, 1)}
        return out


@dataclass
class DeskApp:
    """What an agent module sees when it registers."""

    app: faust.App
    settings: DeskSettings
    config: DeskConfig
    topics: dict[str, faust.TopicT] = field(default_factory=dict)

    tables: dict[str, Any] = field(default_factory=dict)
    # logical topic -> callbacks(partition, offset) told of an undecodable message (risk
    # fails closed on an unreadable command stream)
    decode_watchers: dict[str, list[Callable[[int, int], None]]] = field(default_factory=dict)
    # which life of the broker this is (``streams.incarnation``): offsets mean nothing across
    incarnation: str = ""
    bootstrap: str = ""  # the broker's host:port list
    # write-behind writers (``streams.writebehind``): their backlog goes into the status
    writers: list[Any] = field(default_factory=list)
    # what each agent took last and what waits for it (stuck-consumer alerts)
    inputs: InputSensor = field(default_factory=InputSensor)
    # agent -> (event time of its last input, wall time it was processed, inputs)
    progress: dict[str, tuple[int, float, int]] = field(default_factory=dict)

    def progressed(self, agent: str, ts_event: int) -> None:
        """An agent processed an input of this event time (for status, stuck detection)."""
        _, _, n = self.progress.get(agent, (0, 0.0, 0))
        self.progress[agent] = (ts_event, time.time(), n + 1)
        child(AGENT_PROGRESS, agent).set(ts_event)

    def status(self) -> dict[str, Any]:
        """Every agent's progress and every writer's backlog, as ``desk status`` shows them."""
        now = time.time()
        return {
            "at": now,
            "pid": os.getpid(),
            "incarnation": self.incarnation,
            "agents": {
                a: {"event_time": ts, "idle_s": round(now - wall, 1), "inputs": n}
                for a, (ts, wall, n) in sorted(self.progress.items())
            },
            "writers": [w.backlog.to_json(now) for w in self.writers],
            "consumers": self.inputs.view(self._highwater, now),
        }

    def _highwater(self, tp: Any) -> int | None:
        return self.app.consumer.highwater(tp)

    def decode_failed(self, topic: str, partition: int, offset: int) -> None:
        for watcher in self.decode_watchers.get(topic, ()):
            watcher(partition, offset)

    def logical(self, physical: str) -> str:
        return physical.removeprefix(self.settings.topic_prefix)

    def sink_topic(self, name: str) -> Any:
        """The topic for a sink agent: quiet on decode errors if another agent of this
        worker consumes it (that one dead-letters them), the usual topic otherwise."""
        consumed = {
            str(t)
            for agent in self.app.agents.values()
            if not isinstance(agent.channel, SinkTopic)  # a quiet one dead-letters nothing
            for t in getattr(agent.channel, "topics", ())
        }
        topic = self.topics[name]
        if topic.get_topic_name() not in consumed:
            return topic
        return SinkTopic(
            self.app,
            topics=[topic.get_topic_name()],
            key_serializer="raw",
            value_serializer=topic.value_serializer,
            partitions=topic.partitions,
        )

    def table(self, name: str, help: str = "", partitions: int | None = None) -> Any:
        """A changelog-backed Faust table, shared by name between the agents of this worker.

        One worker holds every partition here, so an agent may read a table another
        agent writes (risk reads ``portfolio-latest`` and ``dq-freshness``). Scaled
        out, such reads need co-partitioned keys.
        """
        if name not in self.tables:
            # keyed by the producer's partitioner, so agents reading different topics
            # (different partition counts) may all write it
            self.tables[name] = self.app.Table(
                name, default=None, partitions=partitions or 3, use_partitioner=True, help=help
            )
        return self.tables[name]

    async def dead_letter(
        self,
        *,
        agent: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        raw: bytes | None,
        timestamp: float | None,
        error: BaseException | str,
        kind: str,
    ) -> None:
        """Send the bad message to ``deadletter`` with its origin and the reason; count it."""
        logical = self.logical(topic)
        record = dead_letter_record(
            topic=logical,
            partition=partition,
            offset=offset,
            key=key,
            raw=raw,
            error=error,
            kind=kind,
            agent=agent,
            ts_ms=int((timestamp or 0) * 1000),
            incarnation=self.incarnation,
        )
        DEAD_LETTERS.labels(agent, logical, kind).inc()
        log.warning(
            "dead-lettered %s[%s]@%s (%s): %s", logical, partition, offset, kind, record["error"]
        )
        await self.topics["deadletter"].send(
            key=logical.encode(), value=record, headers=event_time_headers(record["ts_event"])
        )

    async def dead_letter_event(
        self, event: Any, *, agent: str, error: BaseException | str, kind: str
    ) -> None:
        """Dead-letter a decoded event that failed validation or processing (raw bytes kept)."""
        m = event.message
        await self.dead_letter(
            agent=agent,
            topic=m.topic,
            partition=m.partition,
            offset=m.offset,
            key=m.key,
            raw=m.value if isinstance(m.value, bytes) else None,
            timestamp=event_time_s(m.timestamp, m.headers),
            error=error,
            kind=kind,
        )


def faust_settings(settings: DeskSettings, bootstrap: str) -> dict[str, Any]:
    """Faust settings tuned for the embedded broker (fast group joins, at-least-once)."""
    return dict(
        broker=f"kafka://{bootstrap}",
        store="memory://",
        autodiscover=False,
        processing_guarantee="at_least_once",
        broker_session_timeout=6.0,
        broker_heartbeat_interval=0.5,
        broker_rebalance_timeout=6.0,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        # Faust's own topics (table changelogs): the desk's replicas, 1 on the broker default
        topic_replication_factor=max(settings.topic_replication_factor, 1),
        topic_allow_declare=True,
        web_enabled=settings.worker_web_port != 0,
        web_port=settings.worker_web_port or 6066,
        web_bind="127.0.0.1",
        datadir=str(settings.data_path / "faust"),
        Topic=DeskTopic,
        stream_wait_empty=False,
    )


def create_app(
    settings: DeskSettings, bootstrap: str, agent_modules: Iterable[str] | None = None
) -> DeskApp:
    """Build the Faust app, its catalog topics, and register the agents."""
    import agents

    register_codecs()
    if settings.schema_registry_url:
        from streams.schema_registry import configure

        configure(settings)
    app_id = f"{settings.topic_prefix}{settings.app_id}"
    app = faust.App(app_id, **faust_settings(settings, bootstrap))
    faust_transport.install(app, settings.broker_fetch_wait_ms)
    desk = DeskApp(app=app, settings=settings, config=load_config(settings.config_file))
    app.sensors.add(desk.inputs)
    desk.incarnation = broker_incarnation(bootstrap, settings.broker_incarnation)
    desk.bootstrap = bootstrap
    # no log line, dead letter or alert error of this process shows a configured secret
    install_log_redaction(desk.config)
    app.desk = desk  # type: ignore[attr-defined]  # DeskTopic finds the dead-letter path here
    for spec in CATALOG:
        desk.topics[spec.name] = app.topic(
            physical_name(spec.name, settings.topic_prefix),
            key_serializer="raw",
            value_serializer=codec_name(spec.value_schema),
            partitions=spec.partitions,
        )
    if agent_modules is None and settings.agent_modules:
        agent_modules = [m.strip() for m in settings.agent_modules.split(",") if m.strip()]
    agents.register_all(desk, agent_modules)
    return desk
