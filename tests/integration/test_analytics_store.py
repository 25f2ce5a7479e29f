"""The analytics store: migrations on chDB, and the ClickHouse sink through the store's
owner (the session stack process): exactly once per event id, bad rows set aside."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from analytics.events import EVENT_TABLES
from analytics.store import MIGRATIONS, migrate, schema_version
from analytics.triage import TRIAGE
from connectors.clickhouse.sink import ClickHouseSink
from connectors.clickhouse.store import OwnerStore, StoreRefused
from connectors.migrations import load
from streams.avro import registry
from streams.topics import CATALOG

pytestmark = pytest.mark.integration
CH_VERSION = max(m.version for m in load(MIGRATIONS))  # the newest migration


def fill(i: int, run: str) -> dict:
    return {
        "event_id": f"{run}-{i}", "ts_event": 1_678_406_400_000 + i, "ts_ingest": 0,
        "source": "test", "correlation_id": None, "bot_id": "b", "venue": "paper",
        "account": "main", "symbol": "BTC/USD", "client_order_id": f"c{i}",
        "venue_order_id": None, "trade_id": f"t{i}", "side": "BUY",
        "price": Decimal("20000.000000000000000001"), "quantity": Decimal("0.00000001"),
        "fee": Decimal("0"), "fee_currency": "USD", "liquidity": "TAKER",
        "fill_model_bias": None,
    }  # fmt: skip


def test_migrations_make_a_typed_table_per_topic_and_run_once(stack) -> None:
    with stack._ch_lock:
        client = stack.clickhouse.client
        assert migrate(client) == [] and schema_version(client) == CH_VERSION  # desk up did
        tables = {r[0] for r in client.query("SHOW TABLES").result_rows}
    assert tables >= EVENT_TABLES
    assert {"bars_5m", "bars_1h", "bars_1d", "fills_daily", "pnl_daily",
            "risk_denials_daily"} <= tables  # fmt: skip
    store = OwnerStore(stack.store_endpoint)
    for spec in CATALOG:  # every Avro field has its column
        fields = {f["name"] for f in registry().current(spec.value_schema).parsed["fields"]}
        cols = store.query(
            f"SELECT name FROM system.columns WHERE table = "
            f"'{spec.name.replace('.', '_')}' AND database = currentDatabase()"
        )
        assert fields == {r[0] for r in cols.rows}, spec.name


def test_the_sink_writes_each_event_once_and_sets_bad_ones_aside(stack) -> None:
    run = uuid.uuid4().hex
    store = OwnerStore(stack.store_endpoint)
    sink = ClickHouseSink(store)
    good = [fill(i, run) for i in range(5)]
    no_price = {k: v for k, v in fill(5, run).items() if k != "price"}
    too_big = dict(fill(6, run), quantity=Decimal("1e25"))  # beyond Decimal(38, 18)
    batch = [*good, no_price, good[0], too_big]
    inserted, rejected = sink.write("fills", batch)
    assert inserted == 5
    assert [r.index for r in rejected] == [5, 7]
    assert "price" in rejected[0].error and "ClickHouse" in rejected[1].error

    def held() -> list[list]:
        return store.query(f"SELECT event_id, price, quantity FROM fills "
                           f"WHERE event_id LIKE '{run}-%' ORDER BY event_id").rows  # fmt: skip

    rows = held()
    assert rows == [[f"{run}-{i}", "20000.000000000000000001", "0.00000001"] for i in range(5)]
    # re-delivered (a restarted sink from an earlier offset): nothing more
    assert ClickHouseSink(store).write("fills", good) == (0, [])
    assert held() == rows
    for statement in ("DROP TABLE fills", "SELECT 1; DROP TABLE fills", "  -- x\n"):
        with pytest.raises(StoreRefused):
            store.query(statement)  # the query path is read-only, one statement
    assert store.query("-- canned\nSELECT count() FROM fills WHERE 0;").rows == [[0]]


def test_retention_sets_a_ttl_on_event_time_through_the_owner(stack) -> None:
    store = OwnerStore(stack.store_endpoint)
    run, old, new = uuid.uuid4().hex, 1_678_406_400_000, int(time.time() * 1000)
    with stack._ch_lock:
        stack.clickhouse.client.command(
            f"INSERT INTO gate_results (event_id, ts_event) VALUES ('{run}-old', {old}), "
            f"('{run}-new', {new})"
        )
    try:
        for _ in range(2):  # the second run finds the TTL in place and changes nothing
            report = store.migrate({"gate_results": 30})
            assert (report.applied_now, report.retention) == ([], {"gate_results": 30})
        with stack._ch_lock:
            stack.clickhouse.client.command("OPTIMIZE TABLE gate_results FINAL")
        kept = store.query(f"SELECT event_id FROM gate_results WHERE event_id LIKE '{run}-%'")
        assert kept.rows == [[f"{run}-new"]]  # 2023 is past 30 days of event time
    finally:
        assert store.migrate({}).retention == {}
    for bad, why in (({"nope": 3}, "unknown table"), ({"fills": -1}, "integer >= 0")):
        with pytest.raises(StoreRefused, match=why):
            store.migrate(bad)


def test_position_drift_counts_a_fill_from_the_report_that_lists_it(stack) -> None:
    """A fill of 00:02:30 the venue only saw after its 00:03:20 report (another symbol's bar
    got there first) is no drift; a phantom fill and a missing one are, from their time."""
    run = uuid.uuid4().hex[:12]
    venue, t0 = f"drift-{run}", 1_672_617_600_000  # 2023-01-02: a day no other test uses

    def desk_fill(trade: str, at_s: int, qty: str) -> dict:
        return dict(fill(0, run), event_id=f"{run}-{trade}", trade_id=trade, venue=venue,
                    ts_event=t0 + at_s * 1000, quantity=Decimal(qty))  # fmt: skip

    def report(at_s: int, position: str, *listed: dict) -> dict:
        fills = [{k: f[k] for k in ("trade_id", "client_order_id", "symbol", "side", "price",
                                    "quantity", "fee", "fee_currency")} | {"ts": f["ts_event"]}
                 for f in listed]  # fmt: skip
        return {"event_id": f"{run}-r{at_s}", "ts_event": t0 + at_s * 1000, "ts_ingest": 0,
                "source": "test", "correlation_id": None, "venue": venue, "account": "main",
                "fills": fills, "balances": [], "open_orders": [],
                "positions": [{"symbol": "BTC/USD", "quantity": Decimal(position),
                               "avg_price": None}]}  # fmt: skip

    a, b = desk_fill("a", 100, "1"), desk_fill("b", 150, "2")  # b: seen late by the venue
    phantom = desk_fill("c", 250, "5")  # the venue never had it
    missing = desk_fill("d", 350, "4")  # the venue had it, the desk did not
    store = OwnerStore(stack.store_endpoint)
    sink = ClickHouseSink(store)
    assert sink.write("fills", [a, b, phantom]) == (3, [])
    reports = [report(200, "1", a), report(300, "3", b), report(400, "7", missing)]
    assert sink.write("venue.reports", reports) == (3, [])
    sql = (TRIAGE / "position-drift.sql").read_text()
    rows = store.query(f"SELECT toString(drift) FROM ({sql}) WHERE venue = '{venue}'").rows
    assert [Decimal(r[0]) for r in rows] == [0, -5, -1]  # -5 phantom, then +4 missing


def test_a_batch_cut_short_by_a_dead_client_inserts_nothing(stack) -> None:
    """A worker SIGKILLed while it sends a batch to the store's owner: the owner reads fewer
    bytes than announced and must insert none of them (the batch comes again, whole)."""
    import socket
    import urllib.parse

    from analytics.events import RowEncoder

    run = uuid.uuid4().hex
    body = RowEncoder("fills").lines([fill(i, run) for i in range(3)])  # three whole rows
    url = urllib.parse.urlsplit(stack.store_endpoint)
    with socket.create_connection((url.hostname, url.port)) as s:
        head = (f"POST {url.path}/clickhouse/insert?table=fills HTTP/1.1\r\n"
                f"Host: {url.hostname}\r\nContent-Length: {len(body) + 500}\r\n\r\n")  # fmt: skip
        s.sendall(head.encode() + body)
        s.shutdown(socket.SHUT_WR)  # the client is gone before the rest
        s.settimeout(10)
        assert s.recv(1024) == b""  # no answer to a dead client
    store = OwnerStore(stack.store_endpoint)
    time.sleep(0.5)
    got = store.query(f"SELECT count() FROM fills WHERE startsWith(event_id, '{run}')").rows
    assert got == [[0]]
    store.insert("fills", body)  # the same rows, sent whole, go in
    got = store.query(f"SELECT count() FROM fills WHERE startsWith(event_id, '{run}')").rows
    assert got == [[3]]


def test_a_batch_spanning_years_of_days_goes_in_whole(stack) -> None:
    """A replay of daily bars (or of months of hourly ones) puts hundreds of daily partitions
    in one sink batch; ClickHouse's default refuses more than 100 per insert, and the sink
    retried that for ever (the demo's clean bars never reached the store)."""
    run = uuid.uuid4().hex
    day = 86_400_000
    batch = [dict(fill(i, run), ts_event=1_500_000_000_000 + i * day) for i in range(400)]
    assert ClickHouseSink(OwnerStore(stack.store_endpoint)).write("fills", batch) == (400, [])
    got = (
        OwnerStore(stack.store_endpoint)
        .query(
            f"SELECT count(), uniqExact(toDate(fromUnixTimestamp64Milli(ts_event))) FROM fills "
            f"WHERE startsWith(event_id, '{run}')"
        )
        .rows
    )
    assert got == [[400, 400]]
