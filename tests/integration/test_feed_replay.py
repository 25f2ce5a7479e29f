"""`desk feed replay` into the real broker: bars on market.bars, the bad row on deadletter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.feeds.files import ReadOptions, parse_when, read_files
from streams.admin import apply_topics
from streams.kafka import decode_all, read_topic
from tests.conftest import SHARED_DATA, run_desk

pytestmark = pytest.mark.integration

CRYPTO = SHARED_DATA / "crypto_1m"
PREFIX = "itfeed."  # own namespace: the session's agents (prefix "it.") do not see these bars
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
