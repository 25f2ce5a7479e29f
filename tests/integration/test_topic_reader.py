"""Reading a whole topic on the embedded broker: never short of the end it had when the
reader opened, however quick the caller wants to be. (The case this guards against, a first
fetch slower than the caller's idle period on a loaded machine, cannot be forced here; the
reader's own floor can be checked.)"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from streams.kafka import TopicReader, admin

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
