"""Operational state in the real embedded PostgreSQL: migrations, the idempotent sink,
the order state machine, trading state across a sink restart, the portfolio checkpoint.

The events are a real half day of the in-process engine in wire form (decimals at the
schema's scale, as the sink receives them from the broker).
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from functools import cache

import psycopg
import pytest

from agents.risk.desk import RiskDesk
from connectors.feeds.files import read_files
from connectors.migrations import Migration
from connectors.postgres.migrate import MIGRATIONS, applied, migrate
from connectors.postgres.risk_state import record_commands, record_outcomes
from connectors.postgres.sink import PostgresSink
from connectors.postgres.state import TOPICS
from streams.cli.ops import risk_command
from streams.config import load_config
from streams.engine import Engine
from streams.errors import DeskError
from tests.conftest import SHARED_DATA, run_desk

CRYPTO = SHARED_DATA / "crypto_1m"
pytestmark = pytest.mark.integration
DAY_MS = 86_400_000
TABLES = ("orders", "order_transitions", "fills", "positions", "balances",
          "portfolio_snapshots", "venue_balances", "venue_positions", "risk_commands",
          "trading_state", "limit_versions")  # fmt: skip


@cache
def half_day() -> tuple[tuple[str, dict], ...]:
    """(topic, event) for everything the desk produced on the first half of 2023-03-10."""
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    start = bars[0]["open_time"] + 9 * DAY_MS
    day = [b for b in bars if start <= b["open_time"] < start + DAY_MS // 2]
    out = Engine.for_desk(load_config(), wire=True).run(day)
    return tuple((t, e) for t, _k, e in out.events if t in TOPICS)


def dump(dsn: str) -> dict[str, list[tuple]]:
    """Every table's rows, sorted: two databases in the same state dump equal."""
    with psycopg.connect(dsn) as conn:
        return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall()))
                for t in TABLES}  # fmt: skip


def write_all(sink: PostgresSink, items: list[tuple[str, dict]], batch: int = 200) -> None:
    for i in range(0, len(items), batch):
        assert sink.write(items[i : i + batch]) == []


def test_migrations_apply_once_refuse_edits_and_the_reader_cannot_write(pg_dsn: str) -> None:
    assert migrate(pg_dsn) == []  # the fixture migrated it: a second run applies nothing
    on_disk = {int(p.stem[:4]): p.stem[5:] for p in MIGRATIONS.glob("*.sql")}
    assert applied(pg_dsn) == on_disk  # every file of the checkout, once
    assert {1: "operational_state", 6: "daily_ticket", 7: "universe"}.items() <= on_disk.items()
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(DeskError, match="0001_operational_state changed after it was applied"):
        migrate(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SET ROLE desk_readonly")
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_log")


def test_a_migration_the_checkout_lacks_is_refused(pg_dsn: str, tmp_path) -> None:
    for path in MIGRATIONS.glob("*.sql"):
        (tmp_path / path.name).write_text(path.read_text())
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'from_the_future', 'x')")
    with pytest.raises(DeskError, match="0099 was applied but is not in this checkout"):
        migrate(pg_dsn, tmp_path)
    assert Migration(3, "x", "SELECT 1").checksum == Migration(4, "y", "SELECT 1").checksum


def test_desk_db_migrate_is_idempotent_from_the_cli(pg_dsn: str) -> None:
    env = {"DESK_POSTGRES_DSN": pg_dsn}
    res = run_desk("db", "migrate", "--json", env=env)
    assert res.returncode == 0, res.stderr
    newest = max(int(p.stem[:4]) for p in MIGRATIONS.glob("*.sql"))
    assert json.loads(res.stdout)["postgres"] == {"applied_now": [], "schema_version": newest}
    assert pg_dsn not in res.stdout + res.stderr  # the DSN is never echoed


@pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present")
def test_the_sink_holds_the_desks_state_and_redelivery_changes_nothing(
    new_database, pg_dsn: str
) -> None:
    items = list(half_day())
    sink = PostgresSink(pg_dsn)
    write_all(sink, items)
    first = dump(pg_dsn)

    # orders: the last status each order reached, filled quantity, and every transition kept
    last: dict[str, dict] = {}
    for t, e in items:
        if t == "orders.events":
            last[e["client_order_id"]] = e
    submitted = {e["client_order_id"] for t, e in items
                 if t == "orders.commands" and e["command"] == "SUBMIT"}  # fmt: skip
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT client_order_id, status, filled_quantity FROM orders")
        orders = {cid: (status, filled) for cid, status, filled in rows}
        assert set(orders) == submitted | set(last)
        for cid, e in last.items():
            assert orders[cid] == (e["status"], e["filled_quantity"])
        fills = [e for t, e in items if t == "fills"]
        assert conn.execute("SELECT count(*) FROM fills").fetchone() == (len(fills),)
        # fills add up per order to what the venue said was filled
        agg = conn.execute(
            "SELECT client_order_id, fill_quantity, filled_quantity FROM orders_with_fills "
            "WHERE fills > 0"
        ).fetchall()
        assert agg and all(q == f for _cid, q, f in agg)
        # positions and balances: the last snapshot of each bot, exactly
        snaps: dict[str, dict] = {}
        for t, e in items:
            if t == "portfolio.snapshots":
                snaps[e["bot_id"]] = e
        for bot, s in snaps.items():
            cash, equity, daily = conn.execute(
                "SELECT cash, equity, daily_pnl FROM balances WHERE bot_id = %s", (bot,)
            ).fetchone()
            assert (cash, equity, daily) == (s["cash"], s["equity"], s["daily_pnl"])
            for p in s["positions"]:
                qty, avg = conn.execute(
                    "SELECT quantity, avg_cost FROM positions "
                    "WHERE bot_id = %s AND venue = %s AND symbol = %s",
                    (bot, p["venue"], p["symbol"]),
                ).fetchone()
                assert (qty, avg) == (p["quantity"], p["avg_cost"])
        reports = [e for t, e in items if t == "venue.reports"]
        assert reports and conn.execute("SELECT count(*) FROM venue_balances").fetchone()[0] > 0

    # at-least-once: the whole stream again, from a fresh sink, changes nothing
    write_all(PostgresSink(pg_dsn), items, batch=333)
    assert dump(pg_dsn) == first

    # arrival order across topics is not guaranteed: shuffled, the state ends the same
    shuffled = new_database()
    mixed = items[:]
    random.Random(3).shuffle(mixed)
    write_all(PostgresSink(shuffled), mixed)
    again = dump(shuffled)
    assert {t: again[t] for t in ("orders", "fills", "portfolio_snapshots", "positions")} == {
        t: first[t] for t in ("orders", "fills", "portfolio_snapshots", "positions")
    }
    with psycopg.connect(shuffled) as conn:  # late transitions are kept, marked not applied
        late = conn.execute("SELECT count(*) FROM order_transitions WHERE NOT applied")
        assert late.fetchone()[0] > 0


def test_risk_records_what_it_made_of_each_command_and_nothing_folds_them_again(
    pg_dsn: str,
) -> None:
    """``trading_state``, ``risk_commands`` and ``limit_versions`` hold risk's own outcome
    of each command (``RiskDesk.command``), written by its keeper; the operator's command
    is in ``risk_commands`` before risk has it (a kill is acknowledged once durable)."""
    cfg = load_config()
    t0 = 1_700_000_000_000
    risk = RiskDesk(cfg)

    def apply(*commands: dict) -> None:
        for c in commands:
            risk.command(c)
        record_outcomes(pg_dsn, risk.drain_outcomes())

    def states() -> dict[str, tuple[str, bool]]:
        with psycopg.connect(pg_dsn) as conn:
            rows = conn.execute("SELECT bot_id, state, killed FROM trading_state")
            return {b: (s, k) for b, s, k in rows}

    def one(sql: str) -> object:
        with psycopg.connect(pg_dsn) as conn:
            return conn.execute(sql).fetchone()[0]

    kill = risk_command("KILL", "desk", "drill", "pytest", now_ms=t0)
    bots = sorted(b.id for b in cfg.bots if b.enabled)
    record_commands(pg_dsn, [(kill, bots)])  # the CLI, before sending it: no state derived
    assert states() == {} and one("SELECT refused FROM risk_commands") is None
    resume_unconfirmed = risk_command("RESUME", "desk", "too soon", "pytest", now_ms=t0 + 1)
    apply(kill, resume_unconfirmed)
    assert states() == dict.fromkeys(bots, ("HALTED", True))
    assert "confirmation" in str(one("SELECT refused FROM risk_commands WHERE command = 'RESUME'"))
    assert sorted(one("SELECT bots FROM risk_commands WHERE command = 'KILL'")) == sorted(bots)

    reduce = risk_command("REDUCE", "bot:mm-btc", "drill", "pytest", now_ms=t0 + 2)
    apply(reduce)
    assert states()["mm-btc"] == ("REDUCING", True)  # the kill latch is still on
    resume = risk_command("RESUME", "desk", "checked", "pytest", confirmed=True, now_ms=t0 + 3)
    limit1 = dict(risk_command("LIMIT_CHANGE", "bot:mm-btc", "tighter", "pytest", now_ms=t0 + 4),
                  limits={"max_order_notional": "1000"})  # fmt: skip
    limit2 = dict(risk_command("LIMIT_CHANGE", "bot:mm-btc", "looser", "pytest", now_ms=t0 + 5),
                  limits={"max_order_notional": "3000"})  # fmt: skip
    bad = dict(risk_command("LIMIT_CHANGE", "bot:mm-btc", "typo", "pytest", now_ms=t0 + 6),
               limits={"max_order_notionl": "1"})  # fmt: skip
    risk.command(resume)
    risk.command(limit1)
    outcomes = risk.drain_outcomes()
    record_outcomes(pg_dsn, outcomes)
    record_outcomes(pg_dsn, outcomes)  # the keeper's retry: the same rows, nothing more
    apply(limit2, bad, limit1)  # limit1 again: risk knows it, no outcome, no version
    assert states() == dict.fromkeys(bots, ("ACTIVE", False))
    with psycopg.connect(pg_dsn) as conn:
        versions = conn.execute(
            "SELECT version, overrides->>'max_order_notional' FROM limit_versions "
            "WHERE bot_id = 'mm-btc' ORDER BY version"
        ).fetchall()
        assert versions == [(1, "1000"), (2, "3000")]
        refused = conn.execute("SELECT refused FROM risk_commands WHERE reason = 'typo'")
        assert "max_order_notionl" in refused.fetchone()[0]


def test_a_value_postgres_refuses_is_set_aside_and_the_rest_of_the_batch_lands(
    pg_dsn: str,
) -> None:
    items = [(t, e) for t, e in half_day() if t == "fills"][:3]
    assert len(items) == 3
    huge = dict(items[1][1], event_id="too-big", quantity=Decimal("1e25"))  # > numeric(38,18)
    missing = {k: v for k, v in items[2][1].items() if k != "price"}
    batch = [items[0], ("fills", huge), ("fills", missing), items[2]]
    rejected = PostgresSink(pg_dsn).write(batch)
    assert [r.index for r in rejected] == [1, 2]
    assert "NumericValueOutOfRange" in rejected[0].error and "price" in rejected[1].error
    with psycopg.connect(pg_dsn) as conn:
        ids = {r[0] for r in conn.execute("SELECT event_id FROM fills")}
    assert ids == {items[0][1]["event_id"], items[2][1]["event_id"]}
