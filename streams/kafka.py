"""The one place that builds Kafka clients (confluent-kafka) and speaks our codec to them.

Client settings are tuned for the embedded broker: Tansu's consumer-group joins
are slow with librdkafka's default timeouts (tens of seconds), fast with a short
session timeout and heartbeat. librdkafka's own log lines go to Python logging
instead of stderr.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.avro import registry
from streams.errors import DeskError
from streams.topics import physical_name, spec

log = logging.getLogger("deskplane.kafka")
# A record's event time rides in this header; the record's own timestamp is when it was
# produced, so a real broker's time-based retention (which reads record timestamps)
# keeps a replay of 2023 for the topic's retention from today, not for no time at all.
EVENT_TIME_HEADER = "desk-ts-event"


def _base(bootstrap: str, timeout_s: float) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "socket.timeout.ms": int(timeout_s * 1000),
        "logger": log,
    }


def admin(bootstrap: str, timeout_s: float = 10.0) -> AdminClient:
    return AdminClient(_base(bootstrap, timeout_s))


def producer(bootstrap: str, **extra: Any) -> Producer:
    conf = _base(bootstrap, 10.0) | {
        "acks": "all",
        "linger.ms": 5,
        "enable.idempotence": False,  # the embedded broker has no InitProducerId
        "partitioner": "murmur2_random",  # same key → same partition as Faust/Java clients
    }
    return Producer(conf | extra)


def consumer(bootstrap: str, group: str | None = None, **extra: Any) -> Consumer:
    conf = _base(bootstrap, 10.0) | {
        "group.id": group or "deskplane-reader",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": 50,
    }
    return Consumer(conf | extra)


def event_time_headers(ts_ms: int) -> list[tuple[str, bytes]]:
    """The headers that carry a record's event time (what a dead letter of it is dated)."""
    return [(EVENT_TIME_HEADER, str(int(ts_ms)).encode())]


POLL_EVERY = 64


class EventProducer:
    """Encodes events with the catalog's schema for the topic and produces them keyed."""

    def __init__(self, bootstrap: str, prefix: str = "") -> None:
        self.prefix = prefix
        self._producer = producer(bootstrap)
        self._errors: list[str] = []
        self.sent = 0

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._errors.append(err.str())

    def send(self, topic: str, key: str, event: Mapping[str, Any]) -> None:
        """Encode and produce, the event time in a header (``EVENT_TIME_HEADER``)."""
        value = registry().encode(spec(topic).value_schema, event)
        self.send_raw(topic, key.encode(), value, headers=event_time_headers(event["ts_event"]))

    def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        name = physical_name(topic, self.prefix)
        kwargs: dict[str, Any] = {"timestamp": timestamp_ms} if timestamp_ms is not None else {}
        if headers:
            kwargs["headers"] = headers
        while True:
            try:
                self._producer.produce(
                    name, value=value, key=key, on_delivery=self._on_delivery, **kwargs
                )
                break
            except BufferError:  # local queue full: let deliveries drain
                self._producer.poll(0.05)
        self.sent += 1
        if self.sent % POLL_EVERY == 0:  # serve delivery reports now and then, not per send
            self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> None:
        left = self._producer.flush(timeout_s)
        if left or self._errors:
            raise DeskError(
                f"{left} event(s) not delivered; first error: "
                f"{self._errors[0] if self._errors else 'timeout'}"
            )


class GroupProgress:
    """How far a consumer group (the desk's Faust app) has committed on one topic: the sum
    of its committed offsets over the topic's partitions (0 where it has none)."""

    def __init__(self, bootstrap: str, group: str, topic: str, prefix: str = "") -> None:
        self.name = physical_name(topic, prefix)
        # asks for the group's offsets (OffsetFetch); never subscribes, so never joins it
        self._admin = consumer(bootstrap, group=group)
        tmeta = self._admin.list_topics(self.name, timeout=10).topics.get(self.name)
        if tmeta is None or tmeta.error is not None:
            self._admin.close()
            raise DeskError(f"topic {self.name} does not exist")
        self._parts = [TopicPartition(self.name, p) for p in sorted(tmeta.partitions)]

    def committed(self) -> int:
        try:
            got = self._admin.committed(self._parts, timeout=5)
        except KafkaException:
            return 0
        return sum(max(tp.offset, 0) for tp in got)

    def close(self) -> None:
        self._admin.close()


def wait_committed(
    bootstrap: str, group: str, counts: Mapping[str, int], prefix: str = "", timeout_s: float = 120
) -> dict[str, int]:
    """Until the group has committed ``counts[topic]`` records of each topic (a desk whose
    every agent, in and beyond the core, has taken what was sent), or the timeout; returns
    how far it got per topic (the caller says what a shortfall means)."""
    progress = {t: GroupProgress(bootstrap, group, t, prefix) for t in counts}
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            got = {t: p.committed() for t, p in progress.items()}
            if all(got[t] >= n for t, n in counts.items()) or time.monotonic() > deadline:
                return got
            time.sleep(0.5)
    finally:
        for p in progress.values():
            p.close()


STUCK_BELOW_FLOOR_S = 5.0


class TopicReader:
    """Reads a whole topic from the beginning, without a consumer group (assign, not subscribe).

    The embedded broker's high watermarks lag the real end (Tansu reports the
    base offset of a partition's last batch), so they cannot say where a topic
    ends; they are a floor, though. A reader stops on a count, or on an idle
    period once every partition has reached the floor it saw when it opened:
    a slow first fetch on a busy machine cannot pass for an empty topic.
    """

    def __init__(self, bootstrap: str, topic: str, prefix: str = "", timeout_s: float = 10.0):
        self.name = physical_name(topic, prefix)
        self._c = consumer(bootstrap, group="deskplane-topic-reader")
        tmeta = self._c.list_topics(self.name, timeout=timeout_s).topics.get(self.name)
        if tmeta is None or tmeta.error is not None:
            self._c.close()
            raise DeskError(f"topic {self.name} does not exist")
        parts = [TopicPartition(self.name, p, OFFSET_BEGINNING) for p in sorted(tmeta.partitions)]
        self._floor = {tp.partition: self._high(tp, timeout_s) for tp in parts}
        self._seen: dict[int, int] = {}
        self._c.assign(parts)
        self.records: list[tuple[bytes | None, bytes, int, int]] = []

    def _high(self, tp: TopicPartition, timeout_s: float) -> int:
        try:
            return int(self._c.get_watermark_offsets(tp, timeout=timeout_s, cached=False)[1])
        except KafkaException:
            return 0  # no floor known: the idle period alone decides

    def at_floor(self) -> bool:
        """Every partition has been read at least up to the end it had when the reader opened."""
        return all(self._seen.get(p, -1) + 1 >= high for p, high in self._floor.items())

    def poll(self, timeout_s: float = 0.2) -> int:
        """Fetch what is available now; returns how many new messages arrived."""
        msgs = self._c.consume(5000, timeout=timeout_s)
        for m in msgs:
            if m.error() is not None:
                raise KafkaException(m.error())
            self.records.append((m.key(), m.value(), m.partition(), m.offset()))
            self._seen[m.partition()] = max(self._seen.get(m.partition(), -1), m.offset())
        return len(msgs)

    def read(
        self, until_count: int | None = None, idle_s: float = 1.0, timeout_s: float = 60.0
    ) -> list[tuple[bytes | None, bytes, int, int]]:
        """Poll until ``until_count`` records, or nothing new for ``idle_s`` past the floor,
        or the timeout."""
        deadline = time.monotonic() + timeout_s
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            if until_count is not None and len(self.records) >= until_count:
                break
            if self.poll():
                last_new = time.monotonic()
            elif (idle := time.monotonic() - last_new) >= idle_s and (
                self.at_floor() or idle >= max(STUCK_BELOW_FLOOR_S, 10 * idle_s)
            ):
                break  # (a floor never reached, e.g. a record compacted away, bounds the wait)
        return sorted(self.records, key=lambda r: (r[2], r[3]))

    def close(self) -> None:
        self._c.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_topic(
    bootstrap: str,
    topic: str,
    prefix: str = "",
    until_count: int | None = None,
    idle_s: float = 1.0,
    timeout_s: float = 60.0,
) -> list[tuple[bytes | None, bytes, int, int]]:
    """(key, value, partition, offset) of a whole topic, in partition/offset order."""
    with TopicReader(bootstrap, topic, prefix) as reader:
        return reader.read(until_count, idle_s, timeout_s)


def event_time_s(timestamp: float | None, headers: Any) -> float | None:
    """A consumed record's event time in seconds: its ``EVENT_TIME_HEADER`` if it has one,
    else the record's timestamp (``headers``: a list of pairs or a mapping, as clients give)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for k, v in pairs:
        if k == EVENT_TIME_HEADER:
            try:
                return int(v) / 1000.0
            except (TypeError, ValueError):
                break
    return timestamp


def decode_all(records: Iterable[tuple[bytes | None, bytes, int, int]]) -> list[dict[str, Any]]:
    return [registry().decode(v)[1] for _k, v, _p, _o in records]
