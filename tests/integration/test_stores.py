"""PostgreSQL and chDB round trips on the embedded engines, and external-by-DSN mode."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from streams.runtime.broker import ExternalBroker
from streams.runtime.postgres import ExternalPostgres

pytestmark = pytest.mark.integration


def test_postgres_round_trip_keeps_money_exact(stack) -> None:
    with psycopg.connect(stack.postgres.dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS rt_ledger (id text PRIMARY KEY, cash numeric)")
        conn.execute(
            "INSERT INTO rt_ledger VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
            ("e1", Decimal("100000.000000000000000001")),
        )
        conn.execute(  # idempotent on re-delivery
            "INSERT INTO rt_ledger VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
            ("e1", Decimal("1")),
        )
        rows = conn.execute("SELECT id, cash FROM rt_ledger").fetchall()
    assert rows == [("e1", Decimal("100000.000000000000000001"))]


def test_chdb_round_trip_with_decimals(stack) -> None:
    rows = [["f1", Decimal("27123.450000000000000001"), Decimal("0.00000001")]]
    with stack._ch_lock:
        client = stack.clickhouse.client
        client.command(
            "CREATE TABLE IF NOT EXISTS rt_fills (id String, price Decimal(38, 18), "
            "qty Decimal(38, 18)) ENGINE = ReplacingMergeTree ORDER BY id"
        )
        client.insert("rt_fills", rows, column_names=["id", "price", "qty"])
        client.insert("rt_fills", rows, column_names=["id", "price", "qty"])  # re-delivery
    result = stack.query_clickhouse("SELECT id, price, qty FROM rt_fills FINAL")
    assert result.rows == [["f1", "27123.450000000000000001", "0.00000001"]]  # exact, as text
    assert result.types == ["String", "Decimal(38, 18)", "Decimal(38, 18)"]


def test_every_part_can_be_addressed_as_external(stack) -> None:
    """The same code talks to a server named by DSN/URL: here, the embedded ones by address."""
    assert ExternalBroker(stack.broker.bootstrap).health().healthy
    pg = ExternalPostgres(stack.postgres.dsn)
    pg.start()
    assert pg.health().healthy and pg.health().mode == "external"
    bad = ExternalPostgres("postgresql://desk:topsecret@127.0.0.1:1/desk").health()
    assert not bad.healthy and "topsecret" not in (bad.endpoint or "") + bad.detail
    health = {p.part: p for p in stack.health()}
    assert all(p.healthy for p in health.values()), health
