"""Bar normalization, the bundled sample bars, and the dead-letter record."""

from __future__ import annotations

from connectors.feeds.normalize import bar_event, merge_by_event_time
from connectors.feeds.sample import demo_bars
from streams.deadletter import dead_letter_record, one_line


def _bar(symbol: str = "BTC/USD", t: int = 0, **kw: object) -> dict:
    b = bar_event(
        venue="v",
        symbol=symbol,
        interval="1m",
        open_time_ms=t,
        open=1,
        high=2,
        low=0.5,
        close=1.5,
        volume=3,
        source="test",
    )
    b.update(kw)
    return b


def test_bar_ids_are_deterministic_and_close_time_is_event_time() -> None:
    a, b = _bar(t=60_000), _bar(t=60_000)
    assert a["event_id"] == b["event_id"] != _bar(t=120_000)["event_id"]
    assert a["ts_event"] == 120_000


def test_sample_bars_are_real_and_merged_in_event_time() -> None:
    bars = list(demo_bars(200))
    assert len(bars) == 400
    times = [b["ts_event"] for b in bars]
    assert times == sorted(times)
    assert {b["symbol"] for b in bars} == {"EUR/USD", "GOOG"}
    merged = list(merge_by_event_time([_bar("A", 60_000)], [_bar("B", 0)]))
    assert [b["symbol"] for b in merged] == ["B", "A"]


def test_dead_letter_record_is_deterministic_and_one_line() -> None:
    kw = dict(
        topic="market.bars",
        partition=1,
        offset=7,
        key=b"k",
        raw=b"\x00",
        kind="decode",
        agent="a",
        ts_ms=5,
    )
    a = dead_letter_record(error=ValueError("bad\nthing"), **kw)
    b = dead_letter_record(error=ValueError("bad\nthing"), **kw)
    assert a == b and a["error"] == "bad thing"
    assert one_line(KeyError("x")) == "KeyError: 'x'"
    assert len(one_line("x" * 10_000)) == 500
