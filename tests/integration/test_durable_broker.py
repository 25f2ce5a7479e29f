"""A durable broker's rules, on a broker that outlives the desks using it (``desk broker``:
Tansu started outside any desk, kept for the whole module, as Redpanda would be).

- Two ``desk demo`` runs on it, one data dir: each reports its own numbers (its own
  topic namespace; the stores counted by its own event ids), and the first run's
  topics are still there, untouched, when the second has run. (The same data dir
  twice is also what an operator running ``./dev demo`` again does; this replaces a
  second full-size demo in ``test_demo.py``.)
- Every record the desk wrote (feeds, the core, Faust agents, dead letters) is stamped
  when it was produced, its event time in a header: a broker's time-based retention
  (which reads record timestamps) keeps replayed history for the topic's retention.
- The integration tests that take a broker pass twice in a row against it
  (``DESK_TEST_BROKER_URL``: each run in topic namespaces of its own).

Tansu keeps everything (it has no retention), so the retention check is on what
retention reads, the record timestamps; it fails if any producer stamps event time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from streams.avro import AvroError, registry
from streams.kafka import EVENT_TIME_HEADER, consumer, decode_all, read_topic
from streams.runtime.proc import free_port
from streams.topics import CATALOG, DAY_MS
from tests.conftest import REPO, desk_free_env, run_desk

pytestmark = pytest.mark.integration
CREATE_TIME = 1  # confluent_kafka.TIMESTAMP_CREATE_TIME


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """``desk broker`` in a process of its own; stopped (SIGTERM) after the module."""
    data = tmp_path_factory.mktemp("broker")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "broker", "--port", str(free_port()), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=desk_free_env(DESK_DATA_DIR=str(data)),
        cwd=REPO,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.kill()
        pytest.fail(f"desk broker did not start: {proc.communicate(timeout=10)[1][-2000:]}")
    info = json.loads(line)
    try:
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "broker stopped" in err, err[-2000:]


@pytest.fixture(scope="module")
def two_demos(broker: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two demos of different sizes, one after the other, on the broker and one data dir."""
    env = {"DESK_BROKER_URL": broker["bootstrap"],
           "DESK_DATA_DIR": str(tmp_path_factory.mktemp("desk"))}  # fmt: skip
    runs = []
    for limit in ("300", "200"):
        started = time.time() * 1000
        res = run_desk("demo", "--json", "--limit", limit, env=env, timeout=600)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
        runs.append((json.loads(res.stdout), started, time.time() * 1000))
    return {"runs": runs, "env": env}


def test_two_demos_on_one_broker_each_report_their_own_numbers(broker, two_demos) -> None:
    (first, _, _), (second, _, _) = two_demos["runs"]
    assert first["topic_prefix"] != second["topic_prefix"]
    for run, bars in ((first, 600), (second, 400)):  # two bundled streams, --limit each
        assert run["passed"], [c for c in run["checks"] if not c["passed"]]
        assert run["bars_in"] == bars == run["events"]["market.bars.clean"]
        ch = run["rows"]["clickhouse"]
        assert ch["market_bars_clean"] == bars  # not the data dir's total
        assert ch["fills"] == run["events"]["fills"] == run["rows"]["postgres"]["fills"]
        assert ch["risk_decisions"] == run["events"]["risk.decisions"]
        assert run["stream_vs_engine"]["agree"]
    assert second["events"]["fills"] < first["events"]["fills"]  # its own, not the sum
    # the broker kept the first run's topics, and the second run added nothing to them
    kept = read_topic(broker["bootstrap"], "market.bars.clean", first["topic_prefix"])
    assert len(kept) == 600
    assert (
        len(decode_all(read_topic(broker["bootstrap"], "fills", first["topic_prefix"])))
        == (first["events"]["fills"])
    )


def _records(bootstrap: str, topic: str) -> list:
    c = consumer(bootstrap, group="durable-broker-test")
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        got, idle = [], time.monotonic()
        while time.monotonic() - idle < 2.0:
            batch = [m for m in c.consume(1000, timeout=0.3) if m.error() is None]
            if batch:
                got += batch
                idle = time.monotonic()
        return got
    finally:
        c.close()


def test_every_record_the_desk_wrote_is_stamped_when_produced(broker, two_demos) -> None:
    second, started, ended = two_demos["runs"][1]
    now = time.time() * 1000
    seen: dict[str, int] = {}
    for spec in CATALOG:
        records = _records(broker["bootstrap"], second["topic_prefix"] + spec.name)
        seen[spec.name] = len(records)
        for m in records:
            kind, stamped = m.timestamp()
            assert kind == CREATE_TIME and started - 5_000 <= stamped <= ended + 5_000, (
                spec.name, m.offset(), stamped)  # fmt: skip
            header = dict(m.headers() or []).get(EVENT_TIME_HEADER)
            assert header is not None, f"{spec.name}@{m.offset()}: no event-time header"
            try:
                _name, event = registry().decode(m.value())
            except AvroError:  # the demo's two bad messages on market.bars
                assert spec.name == "market.bars"
                continue
            assert int(header) == event["ts_event"], (spec.name, m.offset())
            if spec.retention_days is not None:  # inside retention from now, whatever its age
                assert stamped + spec.retention_days * DAY_MS > now
    # every kind of producer wrote here: the feed, the core, a Faust agent, dead letters
    assert seen["market.bars"] == 402 and seen["portfolio.snapshots"] > 0
    assert seen["parity.reports"] > 0 and seen["deadletter"] == 2
    # and the history is old: stamped with its event time, retention would delete it now
    bars = decode_all(read_topic(broker["bootstrap"], "market.bars.clean", second["topic_prefix"]))
    assert len(bars) == 400 and all(b["ts_event"] + 30 * DAY_MS < now for b in bars)


def test_the_broker_tests_pass_twice_on_one_external_broker(broker, tmp_path: Path) -> None:
    """The tests that take a broker, run twice against this one: the second run would meet
    the first's topics if the namespaces were fixed."""
    tests = ["tests/integration/test_topics_apply.py", "tests/integration/test_topic_reader.py"]
    env = desk_free_env(DESK_TEST_BROKER_URL=broker["bootstrap"])
    for run in (1, 2):
        res = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
             f"--basetemp={tmp_path / str(run)}", *tests],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
        )  # fmt: skip
        assert res.returncode == 0, f"run {run}:\n{res.stdout[-4000:]}"
        assert " passed" in res.stdout and "failed" not in res.stdout


def test_the_broker_is_known_by_its_cluster_id_and_refuses_a_taken_port(
    broker, tmp_path: Path
) -> None:
    """A desk trusts saved offsets only on the broker life they came from (its cluster id,
    ``streams.incarnation``): the standalone broker's is its own, new at each start."""
    from streams.incarnation import broker_incarnation

    assert broker_incarnation(broker["bootstrap"]) == f"cluster:{broker['cluster_id']}"
    port = broker["bootstrap"].rsplit(":", 1)[1]
    res = run_desk("broker", "--port", port, env={"DESK_DATA_DIR": str(tmp_path)}, timeout=60)
    assert res.returncode == 2 and "already in use" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
