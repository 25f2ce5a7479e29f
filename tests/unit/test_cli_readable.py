"""CLI output an operator can read: rows told apart at 80 columns, short decimals,
counts under tables, progress lines in a log, ``desk reconcile`` without ``--once``."""

from __future__ import annotations

import io
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console
from rich.progress import Progress
from typer.testing import CliRunner

from streams import cli
from streams.cli import context
from streams.display import desk_table, num, print_table, stream_label
from streams.progress import LineProgress, progress_bar

USDT, USDC, USD = "binanceus:BTC/USDT", "binanceus:BTC/USDC", "binanceus:BTC/USD"


def narrow() -> Console:
    """An 80-column console that is not a terminal (what COLUMNS=80 in a log gives)."""
    return Console(width=80, record=True, file=io.StringIO(), color_system=None)


def lines(console: Console) -> list[str]:
    return console.export_text(clear=False).splitlines()


def test_stream_labels_put_what_differs_first() -> None:
    assert stream_label(USDC) == "BTC/USDC@binanceus"
    assert stream_label("binanceus", "BTC/USDT") == "BTC/USDT@binanceus"
    assert stream_label("binanceus:BTC/USDT:1m") == "BTC/USDT@binanceus 1m"
    assert stream_label("okx:BTC/USDT:USDT") == "BTC/USDT:USDT@okx"  # a settle currency stays
    assert stream_label("orders.events") == "orders.events"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0E-18"), "0"),
        (Decimal("-0E-18"), "0"),
        (Decimal("1.500000000000000000"), "1.5"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.000000010000000000"), "0.00000001"),
        ("23456.780000000000000000", "23456.78"),
        (0.1, "0.1"),
        (3, "3"),
        (None, ""),
        ("n/a", "n/a"),
    ],
)
def test_decimals_are_shown_short_and_never_in_exponent_form(value: Any, shown: str) -> None:
    assert num(value) == shown


def test_dq_tables_tell_usdt_from_usdc_at_80_columns() -> None:
    from streams.cli.dq import pair_table, stream_table

    row = {"bars_clean": 30240, "rows": 30240, "missing": 1234, "coverage": 0.9912,
           "gap_runs": 123, "longest_gap": {"bars": 45}, "zero_volume_runs": 12,
           "outliers": 3}  # fmt: skip
    summary = {
        "since": "2023-03-01T00:00:00Z",
        "until": "2023-03-21T00:00:00Z",
        "streams": [
            {"stream": USDC, "status": "CRITICAL", **row},
            {"stream": USDT, "status": "WARNING", **row},
            {"stream": "a-long-venue-name:BTC/USDT", "status": "OK", **row},
        ],
        "pairs": [
            {
                "member": m,
                "reference": USD,
                "current_bps": -4.8,
                "peak_bps": 1430.8,
                "peak_at": "2023-03-11T07:50:00Z",
                "episodes": [{"severity": "CRITICAL"}],
            }
            for m in (USDT, USDC, "kraken:BTC/USDC")
        ],
    }
    out = narrow()
    out.print(stream_table(summary))
    table = pair_table(summary)
    assert table is not None
    out.print(table)
    text = lines(out)
    assert all(len(line) <= 80 for line in text)
    assert "…" not in out.export_text(clear=False)
    for label in ("BTC/USDC@binanceus", "BTC/USDT@binanceus", "BTC/USDC@kraken"):
        assert any(label in line for line in text), label
    assert any("BTC/USDT@a-long-venue-name" in line for line in text)
    assert any("BTC/USD@binanceus" in line for line in text)  # another venue's reference


def test_a_key_column_folds_rather_than_cuts_when_the_terminal_is_narrow() -> None:
    t = desk_table("stream", "message", keys=("stream",))
    t.add_row("BTC/USDC@binanceus", "word " * 40)
    out = Console(width=40, record=True, file=io.StringIO(), color_system=None)
    out.print(t)
    assert "…" not in out.export_text(clear=False)
    assert any("BTC/USDC@binanceus" in line for line in lines(out))


def test_the_row_count_is_under_the_table_on_the_same_stream() -> None:
    out = narrow()
    t = desk_table("a", "b")
    t.add_row("1", "2")
    t.add_row("3", "4")
    print_table(out, t, 2)
    text = [line for line in lines(out) if line.strip()]
    assert text[-1] == "2 rows"
    assert "1" in text[-3] and "3" in text[-2]
    one = narrow()
    print_table(one, desk_table("entry"), 1, "entry", "entries")
    assert lines(one)[-1] == "1 entry"


def _order(cid: str, status: str, qty: str, filled: str, price: str | None) -> dict[str, Any]:
    return {
        "ts_event": 1678521600000, "bot_id": "mm-btc", "venue": "binanceus",
        "symbol": "BTC/USDT" if cid.endswith("t") else "BTC/USDC", "client_order_id": cid,
        "status": status, "side": "BUY", "order_type": "LIMIT",
        "quantity": Decimal(qty), "filled_quantity": Decimal(filled),
        "limit_price": None if price is None else Decimal(price),
    }  # fmt: skip


def test_orders_show_short_decimals_and_which_market(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams import kafka
    from streams.cli import ops

    events = [
        _order("a-t", "ACCEPTED", "0.010000000000000000", "0E-18", "24123.500000000000000000"),
        _order("b-c", "PARTIALLY_FILLED", "1.500000000000000000", "0.5", "21000"),
    ]
    out = narrow()
    monkeypatch.setattr(ops, "_context", lambda: (None, "b", "", context.print_json, out))
    monkeypatch.setattr(kafka, "read_topic", lambda *a, **k: [])
    monkeypatch.setattr(kafka, "decode_all", lambda _records: events)
    ops.orders(show_all=False, bot=None, limit=50, json_out=False)
    text = out.export_text(clear=False)
    assert "E-" not in text and "000000" not in text
    assert "BTC/USDT@binanceus" in text and "BTC/USDC@binanceus" in text
    assert all(len(line) <= 80 for line in lines(out))
    for shown in ("0.01", "24123.5", "1.5", "0.5", "21000"):
        assert shown in text
    assert [x for x in lines(out) if x.strip()][-2] == "2 orders"


def test_json_output_has_no_exponent_decimals(capsys: pytest.CaptureFixture[str]) -> None:
    context.print_json({"filled": Decimal("0E-18"), "qty": Decimal("1.500000000000000000")})
    assert capsys.readouterr().out.split() == ["{", '"filled":', '"0",', '"qty":', '"1.5"', "}"]


def test_sql_prints_the_row_count_under_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.clickhouse.store import QueryResult
    from streams.runtime import access

    @contextmanager
    def store(_settings: Any) -> Any:
        class Store:
            def query(self, _sql: str) -> QueryResult:
                rows = [["binanceus:BTC/USDT", "0.5"], ["binanceus:BTC/USDC", "0"]]
                return QueryResult(["stream", "qty"], ["String", "Decimal(38, 18)"], rows)

        yield Store()

    out, err = narrow(), narrow()
    monkeypatch.setattr(access, "analytics_store", store)
    monkeypatch.setattr(context, "out", out)
    monkeypatch.setattr(context, "err", err)
    result = CliRunner().invoke(cli.app, ["sql", "SELECT stream, qty FROM x"])
    assert result.exit_code == 0, result.output
    text = [line for line in lines(out) if line.strip()]
    assert text[-1] == "2 rows" and "binanceus:BTC/USDC" in text[-2]
    assert "row" not in err.export_text(clear=False)


def test_replay_bars_table_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.cli import replay

    out = narrow()
    monkeypatch.setattr(replay, "out", out)
    stream = {"interval": "1m", "bars": 30240, "first": "2023-03-01T00:01:00Z",
              "last": "2023-03-22T00:00:00Z"}  # fmt: skip
    replay._print({
        "streams": [{"stream": USDT, **stream}, {"stream": USDC, **stream}],
        "overlapping_streams": [], "reject_samples": [], "rejects": 0, "resume": None,
        "seconds": {"read": 1.0, "publish": None}, "dry_run": True, "bars_per_second": 1,
        "bars": 60480, "files": ["a", "b"],
    })  # fmt: skip
    text = lines(out)
    assert all(len(line) <= 80 for line in text) and "…" not in out.export_text(clear=False)
    assert any("BTC/USDT@binanceus 1m" in x and "2023-03-22T00:00:00Z" in x for x in text)
    assert any("BTC/USDC@binanceus" in x for x in text)


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    tty = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(progress_bar(tty, disable=False), Progress)
    assert isinstance(progress_bar(narrow(), disable=False), LineProgress)
    assert isinstance(progress_bar(narrow(), disable=True), Progress)  # --json: nothing


def test_progress_lines_say_rate_and_eta_every_few_seconds() -> None:
    now = [0.0]
    out = narrow()
    with LineProgress(out, every_s=10, clock=lambda: now[0]) as progress:
        task = progress.add_task("replay", total=1000)
        for done in range(0, 1001, 50):  # 50 bars a second
            now[0] = done / 50
            progress.update(task, completed=done)
    text = lines(out)
    assert text[0] == "replay: 500/1,000 (50.0%), 50/s, ETA 10 s"
    assert text[-1] == "replay: 1,000/1,000 (100.0%), 50/s, done in 20 s"
    assert len(text) == 2  # at 10 s and at 20 s; nothing more at the end (already said)


def test_a_replay_into_a_log_prints_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.feeds.files import ReadResult
    from streams import kafka
    from streams.cli import replay

    class Sink:
        def __init__(self, *_: Any) -> None:
            self.sent = 0

        def send(self, *_: Any) -> None:
            self.sent += 1

        def flush(self) -> None:
            pass

    err = narrow()
    monkeypatch.setattr(replay, "err", err)
    monkeypatch.setattr(kafka, "EventProducer", Sink)
    bars = [{"ts_event": 1678521600000 + i * 60000, "venue": "v", "symbol": "S"}
            for i in range(5)]  # fmt: skip
    result = ReadResult.__new__(ReadResult)
    object.__setattr__(result, "rejects", [])
    replay._publish(bars, result, ("broker", ""), None, quiet=False)
    assert lines(err)[-1].startswith("replay: 5/5 (100.0%), ")


def test_reconcile_runs_one_pass_without_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams import kafka
    from streams.settings import load_settings

    monkeypatch.delenv("DESK_CONFIG_FILE", raising=False)
    monkeypatch.setattr(context, "checked_settings", load_settings)
    monkeypatch.setattr(context, "bootstrap", lambda _s: "broker")
    monkeypatch.setattr(kafka, "read_topic", lambda *a, **k: [])
    monkeypatch.setattr(kafka, "decode_all", lambda _records: [])
    for args in (["reconcile"], ["reconcile", "--once"], ["reconcile", "--json"]):
        result = CliRunner().invoke(cli.app, args)
        assert result.exit_code == 0, (args, result.output, result.exception)
