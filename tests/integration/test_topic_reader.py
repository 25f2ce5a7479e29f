"""Reading a whole topic on the embedded broker: never short of the end it had when the
reader opened, however quick the caller wants to be. (The case this guards against, a first
fetch slower than the caller's idle period on a loaded machine, cannot be forced here; the
reader's own floor can be checked.)"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from streams.kafka import EVENT_TIME_HEADER, EventProducer, TopicReader, admin, consumer

pytestmark = pytest.mark.integration


def test_a_reader_does_not_stop_below_the_end_it_saw_when_it_opened(bootstrap: str) -> None:
    name = f"reader-{uuid.uuid4().hex[:8]}"
    client = admin(bootstrap)  # (held: a collected client cancels its futures)
    for f in client.create_topics([NewTopic(name, 3, 1)]).values():
        f.result()
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(3000):
        producer.produce(name, key=str(i % 7).encode(), value=b"x" * 64)
        if i % 250 == 0:
            producer.flush()
    producer.flush()
    with TopicReader(bootstrap, name) as reader:
        floor = {
            p: reader._c.get_watermark_offsets(TopicPartition(name, p), timeout=5)[1]
            for p in range(3)
        }
        assert not reader.at_floor()  # it knows there is more to read before it has any
        got = reader.read(idle_s=0.0)  # no patience at all: only the floor keeps it reading
        assert reader.at_floor()
    assert sum(floor.values()) > 0
    last = {p: max(o for _k, _v, part, o in got if part == p) for p in floor if floor[p]}
    assert all(last[p] + 1 >= floor[p] for p in last)
    assert len(got) >= sum(floor.values())


def test_a_replayed_record_is_timestamped_when_produced_its_event_time_in_a_header(
    bootstrap: str,
) -> None:
    """A real broker deletes by record timestamp: a bar of 2023 stamped 2023 would be past
    a 30-day retention the moment it landed."""
    import time

    from connectors.feeds.normalize import bar_event

    prefix = f"ts{uuid.uuid4().hex[:6]}."
    bar = bar_event(venue="itest", symbol="TS/A", interval="1m", open_time_ms=1_678_000_000_000,
                    open=1, high=1, low=1, close=1, volume=1, source="test")  # fmt: skip
    before = time.time() * 1000
    producer = EventProducer(bootstrap, prefix)
    producer.send("market.bars", "itest:TS/A", bar)
    producer.flush()
    c = consumer(bootstrap, group=f"{prefix}reader")
    c.assign([TopicPartition(f"{prefix}market.bars", p, 0) for p in range(
        len(c.list_topics(f"{prefix}market.bars", timeout=10).topics[f"{prefix}market.bars"]
            .partitions))])  # fmt: skip
    msg = None
    for _ in range(100):
        msg = c.poll(0.2)
        if msg is not None and msg.error() is None:
            break
    c.close()
    assert msg is not None and msg.error() is None
    _kind, stamped = msg.timestamp()
    assert before - 5_000 <= stamped <= time.time() * 1000 + 5_000
    assert dict(msg.headers())[EVENT_TIME_HEADER] == str(bar["ts_event"]).encode()
