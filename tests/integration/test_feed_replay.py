"""`desk feed replay` into the real broker: bars on market.bars, the bad row on deadletter;
`--resume` against the running desk's ClickHouse sends only what the desk has not stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.feeds.files import ReadOptions, parse_when, read_files
from streams.admin import apply_topics
from streams.kafka import decode_all, read_topic
from tests.conftest import SHARED_DATA, namespace, run_desk, wait_for

pytestmark = pytest.mark.integration

CRYPTO = SHARED_DATA / "crypto_1m"
PREFIX = namespace("itfeed")  # own namespace: the session's agents (it-*) do not see these
UNTIL = "2023-03-01T03:20:00Z"  # 200 one-minute bars


@pytest.mark.skipif(not CRYPTO.is_dir(), reason="no shared crypto_1m data")
def test_replay_slice_and_bad_row_through_the_broker(stack, tmp_path: Path) -> None:
    bootstrap = stack.broker.bootstrap
    apply_topics(bootstrap, PREFIX)
    usd = CRYPTO / "binanceus_BTCUSD_1m_2023-03-01_2023-03-21.csv"
    rows = (CRYPTO / "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv").read_text().splitlines()
    bad_row = "2023-03-01 01:40:30+00:00,23100.5,oops,23000,23050,1.5"
    usdt = tmp_path / "binanceus_BTCUSDT_1m_slice.csv"
    usdt.write_text("\n".join([*rows[:101], bad_row, *rows[101:201]]) + "\n")  # bad = line 102

    res = run_desk(
        "feed", "replay", str(usd), str(usdt), "--until", UNTIL, "--json",
        env={
            "DESK_BROKER_URL": bootstrap,
            "DESK_TOPIC_PREFIX": PREFIX,
            "DESK_DATA_DIR": str(tmp_path / "desk"),
        },
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["dry_run"] is False and summary["bars"] == 400 and summary["rejects"] == 1

    expected = read_files([usd, usdt], ReadOptions(until=parse_when(UNTIL)))
    records = read_topic(bootstrap, "market.bars", PREFIX, until_count=400, timeout_s=30)
    got = decode_all(records)
    assert len(got) == 400
    assert {b["event_id"]: b for b in got} == {b["event_id"]: b for b in expected.bars}
    assert {k for k, *_ in records} == {b"binanceus:BTC/USD", b"binanceus:BTC/USDT"}
    for stream in ("BTC/USD", "BTC/USDT"):  # one stream = one partition, in event-time order
        times = [b["ts_event"] for b in got if b["symbol"] == stream]
        assert times == sorted(times) and len(times) == 200

    dead = decode_all(read_topic(bootstrap, "deadletter", PREFIX, until_count=1, timeout_s=30))
    assert len(dead) == 1
    d = dead[0]
    assert (d["topic"], d["partition"], d["offset"]) == (
        "file:binanceus_BTCUSDT_1m_slice.csv",
        0,
        102,
    )
    assert d["raw"] == bad_row.encode() and d["error_kind"] == "decode"
    assert d["error"] == "line 102: high: not a number 'oops'"
    assert d["source"] == d["agent"] == "feed.replay"
    assert d["ts_event"] == parse_when("2023-03-01T01:41:30Z")  # its own bar's close time


# --resume: a window of its own (drills use 03-15..03-18), under venue "itest" because
# test_dq_replay sends all three weeks of these files as binanceus into the same store
RESUME_DAY = "2023-03-19"
RESUME_STREAMS = [f"itest:BTC/{q}:1m" for q in ("USD", "USDC", "USDT")]


@pytest.mark.skipif(not CRYPTO.is_dir(), reason="no shared crypto_1m data")
def test_replay_resumes_from_what_clickhouse_holds(stack, stack_settings) -> None:
    files = [str(p) for p in sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))]
    assert len(files) == 3
    env = {
        "DESK_BROKER_URL": stack.broker.bootstrap,
        "DESK_TOPIC_PREFIX": stack_settings.topic_prefix,  # the session's sink stores these
        "DESK_DATA_DIR": str(stack_settings.data_path),  # its store, through the stack's endpoint
    }
    lo, mid, hi = (f"{RESUME_DAY}T{h}:00:00Z" for h in ("00", "01", "02"))

    def replay(until: str, *more: str) -> dict:
        res = run_desk("feed", "replay", *files, "--venue", "itest", "--since", lo,
                       "--until", until, "--speed", "asap", "--json", *more, env=env)  # fmt: skip
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def stored() -> dict[str, tuple[int, int, int, int]]:
        """Per symbol in [lo, hi): rows, distinct ids, first and last open time."""
        rows = stack.query_clickhouse(
            "SELECT symbol, count(), uniqExact(event_id), min(open_time), max(open_time) "
            f"FROM market_bars WHERE venue = 'itest' AND open_time >= {parse_when(lo)} "
            f"AND open_time < {parse_when(hi)} GROUP BY symbol"
        ).rows
        return {s: (int(n), int(ids), int(a), int(b)) for s, n, ids, a, b in rows}

    def holds(ids: int) -> bool:
        return sum(v[1] for v in stored().values()) >= ids

    first = replay(mid)  # the run a crash or a stop cut short
    assert first["bars"] == 180 and first["resume"] is None
    wait_for(lambda: holds(180), "the first hour in ClickHouse")

    second = replay(hi, "--resume")
    assert second["bars_read"] == 360 and second["bars"] == 180, second
    resume = second["resume"]
    assert resume["skipped"] == dict.fromkeys(RESUME_STREAMS, 60)
    assert resume["stored_until"] == dict.fromkeys(RESUME_STREAMS, f"{RESUME_DAY}T00:59:00Z")
    assert resume["resumed_from"] == dict.fromkeys(RESUME_STREAMS, mid)
    assert resume["gaps"] == {}

    # each bar of 00:00-02:00 exactly once, and exactly the bars of the files
    wait_for(lambda: holds(360), "both hours in ClickHouse")
    t0, t1 = parse_when(lo), parse_when(hi) - 60_000
    assert stored() == {f"BTC/{q}": (120, 120, t0, t1) for q in ("USD", "USDC", "USDT")}
    want = read_files(files, ReadOptions(venue="itest", since=parse_when(lo), until=parse_when(hi)))
    ids = stack.query_clickhouse(
        f"SELECT event_id FROM market_bars WHERE venue = 'itest' AND open_time >= {t0} "
        f"AND open_time <= {t1}"
    ).rows
    assert sorted(i for (i,) in ids) == sorted(b["event_id"] for b in want.bars)

    # a third look: the desk has it all, nothing left to send
    again = replay(hi, "--resume", "--dry-run")
    assert again["bars"] == 0 and again["resume"]["skipped"] == dict.fromkeys(RESUME_STREAMS, 120)
    assert again["resume"]["resumed_from"] == dict.fromkeys(RESUME_STREAMS)
