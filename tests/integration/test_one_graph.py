"""One desk graph, two runners: the stream equals the in-process engine, byte for byte.

Three days of the shared crypto data (2023-03-09 → 03-11, into the USDC de-peg:
data-quality containment, critical findings, both reference bots trading) go
through the running desk with the fused core (``DESK_CORE=fused``), then six hours
of 03-12 at ``x600``. Every topic the trading nodes write — clean bars, findings,
intents, decisions, commands, order events, fills, snapshots, venue reports —
must hold, key by key, exactly the Avro payloads the in-process engine produces
from the same bars: same events, same ids, same order. A second desk with two
workers sharing the partitions must give the same again. (Before the fused core,
two identical x600 replays gave 253 and 227 fills.)
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.feeds.files import read_files
from connectors.feeds.replay import Follower, replay
from streams.avro import registry
from streams.cli.ops import risk_command
from streams.config import load_config
from streams.engine import Engine
from streams.kafka import EventProducer, GroupProgress, read_topic
from streams.runtime.stack import Stack
from streams.settings import DeskSettings, load_settings
from streams.topics import key_of, spec
from tests.conftest import SHARED_DATA, broker_overrides, namespace, wait_for

CRYPTO = SHARED_DATA / "crypto_1m"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present"),
]
DAY_MS = 86_400_000
TOPICS = ("market.bars.clean", "dq.reports", "orders.intents", "risk.decisions",
          "orders.commands", "orders.events", "fills", "portfolio.snapshots",
          "venue.reports")  # fmt: skip


def window(first_day: int, hours: float) -> list[dict]:
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    start = bars[0]["open_time"] + first_day * DAY_MS
    return [b for b in bars if start <= b["open_time"] < start + hours * 3_600_000]


FAST, PACED = window(8, 72), window(11, 6)  # 03-09..03-11 at asap, then 03-12 00-06 at x600


def by_key(events: list[tuple[str, str, dict]]) -> dict[tuple[str, str], list[bytes]]:
    reg, out = registry(), defaultdict(list)
    for topic, key, event in events:
        if topic in TOPICS:
            out[(topic, key)].append(reg.encode(spec(topic).value_schema, event))
    return dict(out)


@pytest.fixture(scope="module")
def engine_out() -> dict[tuple[str, str], list[bytes]]:
    return by_key(Engine.for_desk(load_config()).run(FAST + PACED).events)


def on_the_broker(stack: Stack, prefix: str, want: dict) -> dict[tuple[str, str], list[bytes]]:
    """Each topic, key by key, once the core has taken every bar: the clean bars come out in
    the middle of each bar's cascade, which is published in one go. (Waiting on a sparse
    topic's growth would stop early: a finding may come once an hour.)"""
    clean = sum(len(v) for (t, _k), v in want.items() if t == "market.bars.clean")
    deadline, last, calm = time.monotonic() + 300, -1, 0.0
    while time.monotonic() < deadline:
        # distinct bars: after a restart the re-sent ones must not count as progress
        n = len({v for _k, v, _p, _o in read_topic(stack.broker.bootstrap, "market.bars.clean",
                                                   prefix, idle_s=0.5)})  # fmt: skip
        if n >= clean:
            break
        calm = calm if n == last else time.monotonic()
        if n == last and time.monotonic() - calm > 60:
            break  # stuck for a minute: what is there is the finding
        last = n
        time.sleep(1)
    time.sleep(2)  # the last cascade's sends
    have: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for topic in TOPICS:
        for key, value, _part, _off in read_topic(stack.broker.bootstrap, topic, prefix):
            have[(topic, key.decode())].append(value)
    return dict(have)


def first_difference(want: dict, have: dict) -> str | None:
    for key in sorted(set(want) | set(have)):
        w, h = want.get(key, []), have.get(key, [])
        if w != h:
            i = next((i for i, (a, b) in enumerate(zip(w, h, strict=False)) if a != b),
                     min(len(w), len(h)))  # fmt: skip
            return (f"{key}: engine {len(w)} events, broker {len(h)}; first difference at #{i}: "
                    f"engine {brief(w[i:i + 3])}, broker {brief(h[i:i + 3])}")  # fmt: skip
    return None


def brief(values: list[bytes]) -> list[str]:
    """What a differing event is, in a line: its time and the fields that name it."""
    reg, names = registry(), ("ts_event", "check", "severity", "status", "side", "bot_id")
    out = []
    for v in values:
        event = reg.decode(v)[1]
        out.append(" ".join(f"{k}={event[k]}" for k in names if k in event))
    return out


@pytest.fixture
def desk(
    tmp_path_factory: pytest.TempPathFactory, stack_settings: DeskSettings, request: Any
) -> Iterator[tuple[Stack, str]]:
    workers, prefix = request.param[0], namespace(request.param[1])
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("onegraph"),
        topic_prefix=prefix,
        clickhouse_url=stack_settings.clickhouse_dsn,  # one chDB path per process
        # the trading graph alone: the sinks would add three days of fills to the session's
        # shared ClickHouse, which the order-path test's day query counts
        agent_modules="streams.core",
        **broker_overrides(),
    )
    stack = Stack(settings, with_agents=True, workers=workers)
    stack.start()
    try:
        yield stack, prefix
    finally:
        stack.stop()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("desk", [(1, "og1."), (2, "og2.")], indirect=True, ids=["1w", "2w"])
def test_the_stream_equals_the_engine_at_asap_and_x600(desk, engine_out) -> None:
    stack, prefix = desk
    producer = EventProducer(stack.broker.bootstrap, prefix)
    replay(FAST, [], producer)  # asap: as fast as the broker takes them
    replay(PACED, [], producer, speed=600.0)
    have = on_the_broker(stack, prefix, engine_out)
    assert sum(len(v) for (t, _), v in engine_out.items() if t == "fills") > 100
    assert first_difference(engine_out, have) is None
    if stack.workers == 2:
        assert stack.extra_workers and stack.extra_workers[0].poll() is None


def without_repeats(have: dict[tuple[str, str], list[bytes]]) -> dict[tuple[str, str], list[bytes]]:
    """Each key's events with the re-sends of a restart dropped (the same event id again:
    at-least-once, and the very same bytes, or the first difference shows it)."""
    reg, out = registry(), {}
    for key, values in have.items():
        seen: dict[str, bytes] = {}
        for v in values:
            eid = reg.decode(v)[1]["event_id"]
            assert seen.setdefault(eid, v) == v, f"{key}: {eid} re-sent with other content"
        out[key] = list(seen.values())
    return out


@pytest.mark.timeout(600)
@pytest.mark.parametrize("desk", [(1, "ogk.")], indirect=True, ids=["kill"])
def test_a_worker_killed_mid_replay_resumes_exactly(desk) -> None:
    """SIGKILL the worker while the core is half way through a day; the restarted worker
    takes the checkpoint back and carries on: once the re-sent events are dropped (same
    ids, same bytes), every topic is again the engine's run, key by key."""
    stack, prefix = desk
    day = FAST[: len(FAST) // 3]  # 03-09
    want = by_key(Engine.for_desk(load_config()).run(day).events)
    producer = EventProducer(stack.broker.bootstrap, prefix)
    replay(day[: len(day) // 2], [], producer)
    half = len(day) // 2 // 3  # clean bars out before the kill: about a third of the half
    reader_deadline = time.monotonic() + 120
    while time.monotonic() < reader_deadline:
        if len(read_topic(stack.broker.bootstrap, "market.bars.clean", prefix, idle_s=0.3)) > half:
            break
        time.sleep(0.2)
    assert stack.worker is not None
    killed = stack.worker.pid
    stack.worker.kill()  # no graceful stop: whatever was not checkpointed is re-delivered
    deadline = time.monotonic() + 90  # the supervisor brings a new worker up
    while time.monotonic() < deadline and not (
        stack.worker_alive()
        and stack.worker is not None
        and stack.worker.pid != killed
        and (stack.run_dir / "worker.ready").exists()
    ):
        time.sleep(0.5)
    assert stack.worker is not None and stack.worker.pid != killed, "no new worker"
    replay(day[len(day) // 2 :], [], producer)
    have = without_repeats(on_the_broker(stack, prefix, want))
    assert sum(len(v) for (t, _), v in want.items() if t == "fills") > 10
    assert first_difference(want, have) is None


@pytest.mark.timeout(600)
@pytest.mark.parametrize("desk", [(2, "ogc.")], indirect=True, ids=["2w"])
def test_an_operator_halt_with_two_workers_bites_where_the_engine_says(desk) -> None:
    """Two workers share the partitions: the operator's command (``risk.commands``) must
    reach the worker whose core holds the bars and the books, and act between the same
    two bars as in the engine. Six hours of bars, a desk-wide HALT, six more hours: every
    topic equals the engine's run with the command fed between them (the halt's cancels,
    then only denials for new exposure)."""
    stack, prefix = desk
    day = FAST[: len(FAST) // 3]  # 03-09, three streams
    first, second = day[: len(day) // 4], day[len(day) // 4 : len(day) // 2]
    engine = Engine.for_desk(load_config())
    engine.run(first)
    before = len(engine.out.events)
    halt = risk_command("HALT", "desk", "drill: halt between two bars", "ops",
                        now_ms=int(first[-1]["ts_event"]))  # fmt: skip
    engine.on_risk_command(halt)
    caused = [(t, e["event_id"]) for t, _k, e in engine.out.events[before:] if t in TOPICS]
    assert any(t == "orders.commands" for t, _ in caused), "the halt cancels nothing"
    engine.run(second)
    want = by_key(engine.out.events)
    intents = {e["event_id"]: e for t, _k, e in engine.out.events if t == "orders.intents"}
    after = [e for t, _k, e in engine.out.events[before:] if t == "risk.decisions"]
    assert after and {d["trading_state"] for d in after} == {"HALTED"}
    assert {intents[d["intent_id"]]["action"] for d in after if d["decision"] == "APPROVE"} <= {
        "CANCEL", "CANCEL_ALL"}  # fmt: skip

    producer = EventProducer(stack.broker.bootstrap, prefix)
    replay(first, [], producer)
    on_the_broker(stack, prefix, by_key(Engine.for_desk(load_config()).run(first).events))
    producer.send("risk.commands", key_of("risk.commands", halt), halt)
    producer.flush()
    ids = {eid for _t, eid in caused}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen = {registry().decode(v)[1]["event_id"]
                for _k, v, _p, _o in read_topic(stack.broker.bootstrap, "orders.commands",
                                                prefix, idle_s=0.3)}  # fmt: skip
        if ids & seen:
            break
        time.sleep(0.5)
    replay(second, [], producer)
    have = on_the_broker(stack, prefix, want)
    assert first_difference(want, have) is None
    assert stack.extra_workers and stack.extra_workers[0].poll() is None


@pytest.mark.timeout(600)
@pytest.mark.parametrize("desk", [(1, "ogf.")], indirect=True, ids=["follow"])
def test_a_replay_that_follows_the_desk_stays_within_its_lead_and_equals_the_engine(desk) -> None:
    """``--speed follow``: the feed sends as fast as the desk takes the bars and never more
    than ``lead`` ahead of what the desk's consumer group committed (the desk's real
    progress, read from the broker); the result is the engine's run all the same."""
    stack, prefix = desk
    day = FAST[: len(FAST) // 3]  # 03-09, three streams: 4,320 bars
    want = by_key(Engine.for_desk(load_config()).run(day).events)
    group = f"{prefix}{stack.settings.app_id}"
    progress = GroupProgress(stack.broker.bootstrap, group, "market.bars", prefix)
    lead, waits = 500, []

    def taken() -> int:
        n = progress.committed()
        waits.append(n)
        return n

    try:
        stats = replay(day, [], EventProducer(stack.broker.bootstrap, prefix),
                       follow=Follower(taken, lead=lead, poll_s=0.05))  # fmt: skip
        have = on_the_broker(stack, prefix, want)
        wait_for(lambda: progress.committed() >= len(day), "the desk to commit every bar")
    finally:
        progress.close()
    assert first_difference(want, have) is None
    # it had to wait for the desk (asap would send the day in a fraction of a second), and
    # each time it went on, the desk had taken all but ``lead`` of what was sent
    assert stats.slept > 0 and len(waits) >= len(day) // lead - 1
    assert waits == sorted(waits) and waits[-1] >= len(day) - lead
