"""Avro events through the real broker and the real Faust worker, bad input included."""

from __future__ import annotations

import time
import urllib.request

import pytest

from connectors.feeds.normalize import bar_event
from streams.avro import registry
from streams.kafka import EventProducer, TopicReader, decode_all, read_topic
from streams.schema_history import sample_record
from streams.topics import stream_key
from tests.conftest import metric_samples, wait_for

pytestmark = pytest.mark.integration


def _bars(symbol: str, n: int, start: int = 1_678_000_000_000) -> list[dict]:
    return [
        bar_event(
            venue="itest",
            symbol=symbol,
            interval="1m",
            open_time_ms=start + i * 60_000,
            open=100 + i,
            high=101 + i,
            low=99 + i,
            close=100.5 + i,
            volume=1 + i,
            source="test",
        )
        for i in range(n)
    ]


def test_bars_flow_through_the_agent_and_garbage_goes_to_deadletter(stack, stack_settings) -> None:
    bootstrap, prefix = stack.broker.bootstrap, stack_settings.topic_prefix
    bars = _bars("E2E/A", 100)
    first, after = bars[:50], bars[50:]
    invalid = _bars("E2E/A", 1, start=1_680_000_000_000)[0] | {"venue": "", "event_id": "bad-1"}
    wrong_type = registry().encode("Fill", sample_record(registry().current("Fill")))

    producer = EventProducer(bootstrap, prefix)
    for bar in first:
        producer.send("market.bars", stream_key(bar), bar)
    producer.send_raw("market.bars", b"itest:E2E/A", b"\x00garbage that is not avro", 1)
    producer.send_raw("market.bars", b"itest:E2E/A", wrong_type, 2)
    producer.send("market.bars", "itest:E2E/A", invalid)  # decodes, fails validation
    for bar in after:  # the agent must keep processing after the bad messages
        producer.send("market.bars", stream_key(bar), bar)
    producer.flush()

    want = {b["event_id"] for b in first + after}
    with TopicReader(bootstrap, "market.bars.clean", prefix) as reader:
        seen: dict[str, dict] = {}
        for _ in range(300):
            reader.poll()
            seen = {b["event_id"]: b for b in decode_all(reader.records)}
            if want <= seen.keys():
                break
    assert want <= seen.keys(), f"{len(want - seen.keys())} bars never came out"
    assert "bad-1" not in seen
    # the clean bars are the same events, byte for byte once re-encoded (no flags: clean data)
    for b in first + after:
        assert registry().encode("Bar", seen[b["event_id"]]) == registry().encode("Bar", b)

    dead = [
        d
        for d in decode_all(read_topic(bootstrap, "deadletter", prefix, until_count=3))
        if d["key"] == b"itest:E2E/A"
    ]
    by_kind = sorted((d["error_kind"], d["error"]) for d in dead)
    assert len(dead) == 3, by_kind
    assert any(k == "decode" and "expected a Bar event, got Fill" in e for k, e in by_kind)
    assert any(k == "decode" and "not an Avro single-object message" in e for k, e in by_kind)
    assert any(k == "validation" and "empty venue" in e for k, e in by_kind)
    rejected = next(d for d in dead if d["error_kind"] == "validation")
    assert registry().decode(rejected["raw"])[1]["event_id"] == "bad-1"  # raw bytes kept
    # dated by the event time the producer put in its header, not by when it was produced
    assert rejected["ts_event"] == invalid["ts_event"]
    garbage = next(d for d in dead if "single-object" in d["error"])
    assert garbage["raw"] == b"\x00garbage that is not avro"
    assert garbage["topic"] == "market.bars" and garbage["offset"] >= 0
    assert stack.agents_health().healthy  # the worker is still up

    # the worker counts what it did, per agent/topic/kind, in Prometheus
    metrics = _scrape(stack_settings.metrics_port)
    assert metrics[("desk_events_in_total", "data-quality", "market.bars", None)] >= 101
    assert metrics[("desk_events_out_total", "data-quality", "market.bars.clean", None)] >= 100
    assert metrics[("desk_dead_letters_total", "decoder", "market.bars", "decode")] >= 2
    assert metrics[("desk_dead_letters_total", "data-quality", "market.bars", "validation")] >= 1
    # and how it is: alive, ready, how long an input takes, how fresh each stream is, what
    # its consumer has left, what its sinks write (issue 19, point 4)
    port = stack_settings.metrics_port
    for path, body in (("/healthz", b"ok\n"), ("/readyz", b"ready\n")):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            assert resp.status == 200 and resp.read() == body
    got = metric_samples(port)
    assert got[("desk_processing_seconds_count", (("agent", "desk-core"),))] >= 101
    stream = (("stream", "itest:E2E/A"),)
    assert 0 < time.time() - got[("desk_stream_last_seen_timestamp_seconds", stream)] < 600
    last = max(b["ts_event"] for b in first + after)
    assert got[("desk_stream_event_time_seconds", stream)] == last / 1000
    wait_for(lambda: any(n == "desk_consumer_lag" and dict(lb)["topic"].endswith("market.bars")
                         for n, lb in metric_samples(port)),
             "the consumer lag gauge", 60)  # fmt: skip
    batches = ("desk_sink_batch_rows_count",
               (("agent", "sink-clickhouse"), ("topic", "market.bars.clean")))  # fmt: skip
    wait_for(lambda: metric_samples(port).get(batches, 0) >= 1, "a sink batch in the metrics", 60)


def _scrape(port: int) -> dict[tuple, float]:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[tuple, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("desk_") and s.name.endswith("_total"):
                key = (s.name, s.labels.get("agent"), s.labels.get("topic"), s.labels.get("kind"))
                out[key] = s.value
    return out
