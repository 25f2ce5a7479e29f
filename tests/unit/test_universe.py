"""The universe file: every kind of bad row reported with its line and a PASS/FAIL report
an operator can act on; only enabled rows and benchmarks are fetched (issue 17, point 1)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from analytics.daily import universe
from analytics.daily.universe import EXAMPLE
from streams.errors import DeskError

HEAD = "symbol,type,enabled,benchmark,calendar,yahoo,stooq\n"
GOOD = HEAD + "SPY,etf,true,true,,SPY,spy.us\nQQQ,etf,no,yes,,QQQ,\nTLT,etf,1,0,,TLT,\n"


def report(tmp_path: Path, body: str, name: str = "u.csv", **kw: object) -> universe.Report:
    path = tmp_path / name
    path.write_text(body)
    return universe.check(universe.read(path), **kw)  # type: ignore[arg-type]


def failed(r: universe.Report) -> dict[str, str]:
    return {c.name: c.detail for c in r.checks if c.status == "FAIL"}


def test_the_bundled_example_passes_and_fetches_only_enabled_rows_and_benchmarks() -> None:
    r = universe.check(universe.read(EXAMPLE))
    assert r.status == "PASS", failed(r)
    assert r.fetch == ["SPY", "QQQ", "TLT", "GLD"] and r.skipped == ["XLC", "BTC-USD"]
    btc = next(i for i in universe.read(EXAMPLE).rows if i.symbol == "BTC-USD")
    assert btc.cal == "24/7" and btc.sources == {"yahoo": "BTC-USD", "ccxt": "binanceus:BTC/USD"}


def test_a_disabled_benchmark_is_fetched_and_a_disabled_stock_is_not(tmp_path: Path) -> None:
    r = report(tmp_path, GOOD + "XLC,stock,false,false,,XLC,\n")
    assert r.status == "PASS", failed(r)
    assert r.fetch == ["SPY", "QQQ", "TLT"] and r.skipped == ["XLC"]


@pytest.mark.parametrize(
    ("body", "check", "says"),
    [
        (GOOD + "spy!,etf,true,false,,X,\n", "rows", "u.csv:5: symbol"),
        (GOOD + "GLD,bond,true,false,,GLD,\n", "rows", "u.csv:5: type"),
        (GOOD + "GLD,etf,maybe,false,,GLD,\n", "rows", "u.csv:5: enabled: 'maybe'"),
        (GOOD + "TLT,etf,true,false,,TLT,\n", "unique", "listed twice: TLT"),
        (HEAD + "SPY,etf,false,true,,SPY,\nQQQ,etf,false,true,,QQQ,\n", "enabled", "0 enabled"),
        (HEAD + "SPY,etf,true,true,,SPY,\nQQQ,etf,true,false,,QQQ,\n", "benchmarks", "QQQ"),
        (GOOD + "GLD,etf,true,false,,,\n", "sources", "no source symbol: GLD"),
        (GOOD + "GLD,etf,true,false,XXXX,GLD,\n", "calendars", "unknown calendar: XXXX"),
    ],
)
def test_each_kind_of_bad_universe_fails_naming_the_row(
    tmp_path: Path, body: str, check: str, says: str
) -> None:
    r = report(tmp_path, body)
    assert r.status == "FAIL"
    assert check in failed(r) and says in failed(r)[check], failed(r)
    md = r.markdown()
    assert f"| {check} | FAIL |" in md and "## What to do" in md  # actionable, not console


def test_coverage_fails_for_a_fetched_symbol_without_an_end_of_day_row(tmp_path: Path) -> None:
    last = {"SPY": dt.date(2021, 6, 4), "QQQ": dt.date(2021, 6, 4)}
    r = report(tmp_path, GOOD, eod_last=last)
    assert failed(r) == {"coverage": "no end-of-day row: TLT"}
    assert r.coverage == {"SPY": "2021-06-04", "QQQ": "2021-06-04", "TLT": None}


def test_a_yaml_universe_reads_like_the_csv_and_an_unreadable_file_is_one_line(
    tmp_path: Path,
) -> None:
    rows = [i.model_dump() for i in universe.read(EXAMPLE).rows]
    (tmp_path / "u.yaml").write_text(json.dumps({"universe": rows}))
    assert universe.read(tmp_path / "u.yaml").rows == universe.read(EXAMPLE).rows
    (tmp_path / "bad.csv").write_text("ticker,type\nSPY,etf\n")
    with pytest.raises(DeskError, match="no symbol column"):
        universe.read(tmp_path / "bad.csv")
    with pytest.raises(DeskError, match="cannot read"):
        universe.read(tmp_path / "missing.csv")


def test_the_artifact_is_written_as_markdown_and_json(tmp_path: Path) -> None:
    r = report(tmp_path, HEAD + "SPY,etf,true,true,,SPY,\n")
    md = universe.write_report(r, tmp_path / "reports")
    assert md.read_text() == r.markdown()
    doc = json.loads((tmp_path / "reports" / "universe_validation.json").read_text())
    assert doc["status"] == "FAIL" and doc["sha256"] == r.sha256
