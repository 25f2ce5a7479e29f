"""Canned triage queries (files, parameters) and the read-only guard of `desk sql`."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.triage import TRIAGE, find, load_all, parse
from connectors.clickhouse.store import StoreRefused, check_read_only
from streams.config import ConfigError, load_config
from streams.errors import DeskError
from tests.conftest import desk_config_file


def test_every_canned_query_parses_and_renders_to_one_read() -> None:
    queries = load_all()
    assert len(queries) >= 10
    for q in queries.values():
        assert q.title and q.why, q.name
        check_read_only(q.render())  # defaults bound: one read-only statement
    documented = (TRIAGE.parent.parent / "docs" / "triage.md").read_text()
    assert all(f"`{name}`" in documented for name in queries)


def test_parameters_are_literals_never_sql() -> None:
    q = find("order-trace")
    sql = q.render({"order": "x' OR 1=1 --"})
    assert "client_order_id = 'x\\' OR 1=1 --'" in sql
    day = find("day-per-bot")
    assert "toDate('2023-03-10')" in day.render({"day": "2023-03-10"})
    assert "(SELECT max(toDate(trading_day)) - 1" in day.render()  # the default: yesterday
    with pytest.raises(DeskError, match="not a date"):
        day.render({"day": "2023-03-10'); DROP TABLE fills; --"})
    with pytest.raises(DeskError, match="not a whole number"):
        find("worst-slippage").render({"limit": "5 OR 1"})
    with pytest.raises(DeskError, match="unknown parameter 'dya'"):
        day.render({"dya": "2023-03-10"})
    with pytest.raises(DeskError, match="no canned query"):
        find("nope")


def test_a_malformed_query_file_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DeskError, match="needs a '-- title:'"):
        parse("x", "SELECT 1")
    with pytest.raises(DeskError, match=r"x.sql:2: param is"):
        parse("x", "-- title: t\n-- param: day = 1\nSELECT {day}")
    with pytest.raises(DeskError, match="placeholders"):
        parse("x", "-- title: t\nSELECT {day}")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ';' AS semicolon",
        "-- a comment\nWITH 1 AS x SELECT x;",
        "(SELECT 1)",
        "SHOW TABLES",
        "SELECT 'file(' AS text_not_a_call",
    ],
)
def test_reads_pass(sql: str) -> None:
    assert check_read_only(sql)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("", "empty"),
        ("-- nothing", "empty"),
        ("DROP TABLE fills", "read-only: DROP"),
        ("/* hidden */ INSERT INTO fills VALUES (1)", "read-only: INSERT"),
        ("SELECT 1; DROP TABLE fills", "one statement"),
        ("SELECT 'a\\'; DROP TABLE x'; DROP TABLE y", "one statement"),
        ("SELECT * FROM file('.env', 'LineAsString')", "file\\( is refused"),
        ("SELECT * FROM url('http://x', 'CSV')", "url\\( is refused"),
        ("SELECT 1 INTO OUTFILE 'x.csv'", "INTO OUTFILE"),
    ],
)
def test_anything_else_is_refused(sql: str, why: str) -> None:
    with pytest.raises(StoreRefused, match=why):
        check_read_only(sql)


def test_retention_is_checked_against_the_catalog(tmp_path: Path) -> None:
    cfg = load_config(desk_config_file(tmp_path, analytics={"retention_days": {
        "market.quotes": 30, "fills": 0}}))  # fmt: skip
    assert cfg.analytics.table_retention() == {"market_quotes": 30}  # 0 keeps forever
    for bad, why in (({"market.quote": 3}, "not a catalog topic"), ({"fills": -1}, ">= 0")):
        with pytest.raises(ConfigError, match=why):
            load_config(desk_config_file(tmp_path, analytics={"retention_days": bad}))
