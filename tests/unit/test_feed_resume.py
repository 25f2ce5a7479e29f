"""``desk feed replay --resume``: the pure decision, its SQL, and the CLI against a fake owner."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connectors.clickhouse.store import check_read_only
from connectors.feeds.normalize import bar_event
from connectors.feeds.resume import (
    Stored,
    parse_stored,
    plan,
    resume_filter,
    resume_points,
    spans,
    stored_sql,
)

MIN = 60_000
T0 = 1_679_184_000_000  # 2023-03-19T00:00Z
USDT = ("binanceus", "BTC/USDT", "1m")
USD = ("binanceus", "BTC/USD", "1m")
ODD = ("it's", "A\\B", "1m")  # quotes and backslashes survive the SQL


def bar(stream: tuple[str, str, str], minute: int, close: float = 1.0) -> dict[str, Any]:
    venue, symbol, interval = stream
    return bar_event(venue=venue, symbol=symbol, interval=interval,
                     open_time_ms=T0 + minute * MIN, open=1, high=2, low=0.5, close=close,
                     volume=1, source="test")  # fmt: skip


def minutes(bars: list[Any], stream: tuple[str, str, str]) -> list[int]:
    return [(b["open_time"] - T0) // MIN for b in bars if (b["venue"], b["symbol"]) == stream[:2]]


# -- the decision -------------------------------------------------------------------------------


def test_filter_skips_at_or_before_the_point_per_stream_in_order() -> None:
    bars = [bar(s, m) for m in range(6) for s in (USDT, USD)]
    kept, skipped = resume_filter(bars, {USDT: T0 + 2 * MIN})
    assert minutes(kept, USDT) == [3, 4, 5]  # at the point is skipped: the desk has it
    assert minutes(kept, USD) == [0, 1, 2, 3, 4, 5]  # no point: a stream never seen, all of it
    assert skipped == {USDT: 3}
    assert [b["ts_event"] for b in kept] == sorted(b["ts_event"] for b in kept)  # order kept


def test_filter_judges_duplicates_and_out_of_order_bars_on_their_own_time() -> None:
    bars = [bar(USDT, m) for m in (4, 1, 5, 2, 2, 6, 0, 5)]
    kept, skipped = resume_filter(bars, {USDT: T0 + 4 * MIN})
    assert minutes(kept, USDT) == [5, 6, 5]  # both copies of 5 go: the sinks keep one
    assert skipped == {USDT: 5}


def test_nothing_stored_skips_nothing() -> None:
    bars = [bar(USDT, m) for m in range(3)]
    kept, skipped = resume_filter(bars, {})
    assert kept == bars and skipped == {}
    p = plan(bars, {})
    assert p.bars == bars and p.stored_until == {USDT: None}
    assert p.resumed_from == {USDT: T0}
    assert p.to_json()["skipped"] == {"binanceus:BTC/USDT:1m": 0}


def test_since_later_than_the_stored_point_wins() -> None:
    # --since 01:00 read only bars from 01:00; the desk got to 00:30: nothing to skip
    bars = [bar(USDT, m) for m in range(60, 70)]
    p = plan(bars, {USDT: Stored(T0 + 30 * MIN, 31)})
    assert p.bars == bars and p.skipped == {} and p.gaps == {}
    assert p.resumed_from == {USDT: T0 + 60 * MIN}
    assert p.to_json()["resumed_from"] == {"binanceus:BTC/USDT:1m": "2023-03-19T01:00:00Z"}
    assert p.to_json()["stored_until"] == {"binanceus:BTC/USDT:1m": "2023-03-19T00:30:00Z"}


def test_resume_after_a_stop_half_way() -> None:
    bars = [bar(s, m) for m in range(120) for s in (USDT, USD)]
    stored = {USDT: Stored(T0 + 59 * MIN, 60), USD: Stored(T0 + 61 * MIN, 62)}
    p = plan(bars, stored)
    assert p.skipped == {USDT: 60, USD: 62} and len(p.bars) == 240 - 122
    assert p.resumed_from == {USDT: T0 + 60 * MIN, USD: T0 + 62 * MIN}
    j = p.to_json()
    assert j["skipped"] == {"binanceus:BTC/USD:1m": 62, "binanceus:BTC/USDT:1m": 60}
    assert j["resumed_from"]["binanceus:BTC/USDT:1m"] == "2023-03-19T01:00:00Z"
    assert j["gaps"] == {}


def test_everything_stored_leaves_nothing_to_send() -> None:
    bars = [bar(USDT, m) for m in range(10)]
    p = plan(bars, {USDT: Stored(T0 + 9 * MIN, 10)})
    assert p.bars == [] and p.skipped == {USDT: 10} and p.resumed_from == {USDT: None}
    assert p.to_json()["resumed_from"] == {"binanceus:BTC/USDT:1m": None}


def test_a_gap_before_the_stored_point_replays_the_stream_in_full() -> None:
    # an earlier run sent only 01:00-01:59 (--since 01:00): the latest stored bar is 01:59,
    # but 00:00-00:59 never arrived; skipping up to 01:59 would lose that hour for good
    bars = [bar(s, m) for m in range(120) for s in (USDT, USD)]
    stored = {USDT: Stored(T0 + 119 * MIN, 60), USD: Stored(T0 + 59 * MIN, 60)}
    points, gaps = resume_points(bars, stored)
    assert points == {USD: T0 + 59 * MIN} and gaps == {USDT: (60, 120)}
    p = plan(bars, stored)
    assert minutes(p.bars, USDT) == list(range(120)) and p.skipped == {USD: 60}
    assert p.to_json()["gaps"] == {"binanceus:BTC/USDT:1m": {"stored": 60, "expected": 120}}


def test_gaps_in_the_files_are_not_gaps_in_the_store() -> None:
    # the recording itself lacks minutes 3-6: the store holding what the file has is complete
    bars = [bar(USDT, m) for m in (0, 1, 2, 7, 8, 9)]
    p = plan(bars, {USDT: Stored(T0 + 8 * MIN, 5)})
    assert minutes(p.bars, USDT) == [9] and p.gaps == {}
    # duplicates in the files count once against the store
    twice = [*bars, bar(USDT, 1)]
    assert plan(twice, {USDT: Stored(T0 + 8 * MIN, 5)}).gaps == {}


# -- the store's side: SQL and rows -------------------------------------------------------------


def test_spans_and_sql_read_only_quoted_and_per_stream() -> None:
    bars = [bar(USDT, 5), bar(USDT, 1), bar(ODD, 3), bar(USDT, 9)]
    s = spans(bars)
    assert s == {USDT: (T0 + 2 * MIN, T0 + 10 * MIN), ODD: (T0 + 4 * MIN, T0 + 4 * MIN)}
    sql = stored_sql(s)
    assert check_read_only(sql) == sql  # what the owner endpoint lets through
    assert "FROM market_bars\n" in sql and "`interval` = '1m'" in sql
    assert "venue = 'it\\'s' AND symbol = 'A\\\\B'" in sql
    assert f"ts_event BETWEEN {T0 + 2 * MIN} AND {T0 + 10 * MIN}" in sql
    assert "GROUP BY venue, symbol, `interval`" in sql
    empty = stored_sql({})
    assert check_read_only(empty) == empty and "WHERE 0" in empty


def test_parse_stored_rows_as_the_owner_sends_them() -> None:
    rows = [["binanceus", "BTC/USDT", "1m", T0, 60], ["x", "Y/Z", "1d", 0, 0]]
    assert parse_stored(rows) == {USDT: Stored(T0, 60)}  # a row of nothing is no resume point
    assert parse_stored([]) == {}


# -- the CLI, against a fake store owner (what a running desk serves) -----------------------


def _csv(path: Path, first: int, n: int) -> Path:
    lines = ["open_time,open,high,low,close,volume"]
    for m in range(first, first + n):
        lines.append(f"2023-03-19 00:{m:02d}:00+00:00,1,2,0.5,1.5,3")
    path.write_text("\n".join(lines) + "\n")
    return path


class _Owner:
    """Serves ``/clickhouse/query`` like a running desk's stack, answering from ``held``."""

    def __init__(self, held: list[list[Any]], status: int = 200) -> None:
        self.held, self.status, self.queries = held, status, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sql = self.rfile.read(int(self.headers["Content-Length"])).decode()
                owner.queries.append(sql)
                check_read_only(sql)
                rows = [] if "WHERE 0" in sql else owner.held
                body = json.dumps({"columns": ["venue", "symbol", "interval", "t", "n"],
                                   "types": ["String"] * 3 + ["Int64", "UInt64"],
                                   "rows": rows}).encode()  # fmt: skip
                if owner.status != 200:
                    body = b"ClickHouse is not started"
                self.send_response(owner.status)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"


@pytest.fixture
def desk(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[..., tuple[int, str, str]]:
    """``desk ARGS...`` in this process beside a "running desk" whose store is ``endpoint``."""
    from streams.cli import main

    for key in [k for k in os.environ if k.startswith("DESK_")]:
        monkeypatch.delenv(key)
    data = tmp_path / "desk"
    monkeypatch.setenv("DESK_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    (data / "run").mkdir(parents=True)

    def run(*args: str, endpoint: str) -> tuple[int, str, str]:
        state = {"pid": os.getpid(), "store_endpoint": endpoint, "broker": "127.0.0.1:1"}
        (data / "run" / "stack.json").write_text(json.dumps(state))
        monkeypatch.setattr(sys, "argv", ["desk", *args])
        code = 0
        try:
            main()
        except SystemExit as done:
            code = int(done.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_cli_dry_run_resume_reports_per_stream(tmp_path: Path, desk) -> None:
    usdt = _csv(tmp_path / "binanceus_BTCUSDT_1m_x.csv", 0, 10)
    usd = _csv(tmp_path / "binanceus_BTCUSD_1m_x.csv", 0, 10)
    owner = _Owner([["binanceus", "BTC/USDT", "1m", T0 + 4 * MIN, 5]])
    try:
        code, out, err = desk("feed", "replay", str(usdt), str(usd), "--dry-run", "--resume",
                              "--json", endpoint=owner.endpoint)  # fmt: skip
    finally:
        owner.http.shutdown()
    assert code == 0, err
    s = json.loads(out)
    assert s["bars_read"] == 20 and s["bars"] == 15
    assert s["resume"]["skipped"] == {"binanceus:BTC/USD:1m": 0, "binanceus:BTC/USDT:1m": 5}
    assert s["resume"]["resumed_from"] == {
        "binanceus:BTC/USD:1m": "2023-03-19T00:00:00Z",
        "binanceus:BTC/USDT:1m": "2023-03-19T00:05:00Z",
    }
    assert s["resume"]["stored_until"]["binanceus:BTC/USD:1m"] is None
    assert len(owner.queries) == 2 and "WHERE 0" in owner.queries[0]  # asked before the read
    assert "symbol = 'BTC/USD'" in owner.queries[1]


def test_cli_human_output_names_the_resume(tmp_path: Path, desk) -> None:
    usdt = _csv(tmp_path / "binanceus_BTCUSDT_1m_x.csv", 0, 10)
    owner = _Owner([["binanceus", "BTC/USDT", "1m", T0 + 9 * MIN, 10]])
    try:
        code, out, err = desk("feed", "replay", str(usdt), "--dry-run", "--resume",
                              endpoint=owner.endpoint)  # fmt: skip
    finally:
        owner.http.shutdown()
    assert code == 0, err
    assert "nothing left to send" in out and "10 already stored, skipped (--resume)" in out


@pytest.mark.parametrize("dry_run", [True, False])
def test_cli_unreachable_store_is_one_line_exit_2_nothing_sent(
    tmp_path: Path, desk, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    import streams.kafka

    def no_producer(*a: object, **k: object) -> None:
        raise AssertionError("nothing may be sent when the store cannot be asked")

    monkeypatch.setattr(streams.kafka, "EventProducer", no_producer)
    monkeypatch.setenv("DESK_BROKER_URL", "127.0.0.1:1")  # never reached
    usdt = _csv(tmp_path / "binanceus_BTCUSDT_1m_x.csv", 0, 10)
    from streams.runtime.proc import free_port

    args = ["feed", "replay", str(usdt), "--resume", *(["--dry-run"] if dry_run else [])]
    code, out, err = desk(*args, endpoint=f"http://127.0.0.1:{free_port()}")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: --resume: cannot ask the desk's analytics store")
    assert "unreachable" in lines[0] and "nothing was sent" in lines[0]


def test_cli_store_failing_is_one_line_exit_2(tmp_path: Path, desk) -> None:
    usdt = _csv(tmp_path / "binanceus_BTCUSDT_1m_x.csv", 0, 10)
    owner = _Owner([], status=503)
    try:
        code, _out, err = desk("feed", "replay", str(usdt), "--dry-run", "--resume",
                               endpoint=owner.endpoint)  # fmt: skip
    finally:
        owner.http.shutdown()
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "ClickHouse is not started" in err
