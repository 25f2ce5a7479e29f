"""A real day through the running desk: both reference strategies, risk, paper venue, books.

Its own embedded stack (broker, PostgreSQL, chDB, worker) with the packaged desk
config (trend-btc on BTC/USD, mm-btc on BTC/USDT). Bars are published a minute
of event time at a time, a few milliseconds apart, as a fast live feed would.
The stream is arrival-ordered, so the exact fills differ from the in-process
loop; what must hold exactly is the ledger: for every bot and symbol the signed
fills add up to the position, and cash + position value = equity, to the last
decimal. Then ``desk kill`` stops approvals and cancels the resting quotes, and
``desk resume --confirm`` brings trading back. The operational state in
PostgreSQL follows the topics, and after a worker restart the books carry on
from where they were (the next day starts from the equity they ended with).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from itertools import groupby

import psycopg
import pytest

from connectors.feeds.files import read_files
from streams.kafka import EventProducer
from streams.runtime.proc import free_port, stop_process
from streams.runtime.stack import Stack
from streams.settings import DeskSettings, load_settings
from streams.topics import stream_key
from tests.conftest import (
    SHARED_DATA,
    broker_overrides,
    desk_config_file,
    namespace,
    run_desk,
    wait_for,
)
from tests.integration import order_flow
from tests.integration.order_flow import ORDER_TOPICS

CRYPTO = SHARED_DATA / "crypto_1m"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present"),
]
DAY_MS = 86_400_000
PREFIX = namespace("op")


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, stack_settings: DeskSettings
) -> Iterator[tuple[Stack, DeskSettings]]:
    data_dir = tmp_path_factory.mktemp("orderpath")
    settings = load_settings(
        data_dir=data_dir,
        topic_prefix=PREFIX,
        metrics_port=free_port(),
        # desk-wide limits are the control-plane scenario's (test_control_plane.py)
        config_file=desk_config_file(data_dir, portfolio_risk=None),
        # chDB runs inside this test process and opens one data path per process:
        # share the session stack's (this test writes nothing to it)
        clickhouse_url=stack_settings.clickhouse_dsn,
        **broker_overrides(),
    )
    stack = Stack(settings, with_agents=True)
    stack.start()
    try:
        yield stack, settings
    finally:
        stack.stop()


def bars_from(day_index: int, minutes: int) -> list[dict]:
    bars = read_files(sorted(CRYPTO.glob("binanceus_BTC*_1m_*.csv"))).bars
    start = bars[0]["open_time"] + day_index * DAY_MS
    return [b for b in bars if start <= b["open_time"] < start + minutes * 60_000]


def publish(producer: EventProducer, bars: list[dict], pause_s: float = 0.02) -> None:
    """A minute of bars (all symbols) at a time, ``pause_s`` apart."""
    for _t, minute in groupby(bars, key=lambda b: b["open_time"]):
        for bar in minute:
            producer.send("market.bars", stream_key(bar), bar)
        producer.flush()
        time.sleep(pause_s)


def topic(stack: Stack, name: str) -> list[dict]:
    return order_flow.topic(stack, name, PREFIX)


def settle(stack: Stack, names: tuple[str, ...], quiet_s: float = 4.0) -> None:
    order_flow.settle(stack, PREFIX, names, quiet_s)


def signed(f: dict) -> Decimal:
    return f["quantity"] if f["side"] == "BUY" else -f["quantity"]


def assert_exact_ledger(stack: Stack) -> dict[str, dict]:
    fills = topic(stack, "fills")
    snaps = topic(stack, "portfolio.snapshots")
    assert len({f["event_id"] for f in fills}) == len(fills)
    total: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for f in fills:
        total[(f["bot_id"], f"{f['venue']}:{f['symbol']}")] += signed(f)
    last: dict[str, dict] = {}
    for s in snaps:  # one partition per bot: topic order is the order the books changed
        value = sum((p["quantity"] * p["mark"] for p in s["positions"]), Decimal(0))
        assert s["cash"] + value == s["equity"]
        assert s["equity"] == Decimal("100000") + s["realized_pnl"] + s["unrealized_pnl"]
        last[s["bot_id"]] = s
    held = {(b, f"{p['venue']}:{p['symbol']}"): p["quantity"] for b, s in last.items()
            for p in s["positions"]}  # fmt: skip
    assert {k: v for k, v in total.items() if v} == {k: v for k, v in held.items() if v}
    fee_paid: defaultdict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        fee_paid[f["bot_id"]] += f["fee"]
    assert {b: s["fees"] for b, s in last.items() if s["fees"]} == dict(fee_paid)
    return last


def pg_rows(stack: Stack, sql: str) -> list[tuple]:
    with psycopg.connect(stack.postgres.dsn) as conn:
        return conn.execute(sql).fetchall()


def test_a_real_day_through_the_running_desk_then_kill_and_resume(desk) -> None:
    stack, settings = desk
    producer = EventProducer(stack.broker.bootstrap, PREFIX)
    env = {"DESK_BROKER_URL": stack.broker.bootstrap, "DESK_TOPIC_PREFIX": PREFIX,
           "DESK_DATA_DIR": str(settings.data_path),
           "DESK_CONFIG_FILE": str(settings.config_file)}  # fmt: skip

    # 1. a day: intents -> decisions -> commands -> fills -> positions, exact books
    # the day's last hour at a pace the venue keeps up with: risk reserves every quote the
    # venue has not yet answered (a re-quote waits for the cancel of the one it replaces),
    # so under the fast part's lag the market maker's re-quotes are denied; here they rest
    day = bars_from(9, 1440)
    publish(producer, day[: -3 * 60])
    publish(producer, day[-3 * 60 :], pause_s=0.3)
    settle(stack, ORDER_TOPICS)
    intents, decisions = topic(stack, "orders.intents"), topic(stack, "risk.decisions")
    commands, fills = topic(stack, "orders.commands"), topic(stack, "fills")
    assert {i["bot_id"] for i in intents} == {"trend-btc", "mm-btc"}
    assert sorted(d["intent_id"] for d in decisions) == sorted(i["event_id"] for i in intents)
    approved = sorted(d["event_id"] for d in decisions if d["decision"] == "APPROVE")
    assert approved and sorted(c["decision_id"] for c in commands) == approved
    assert all(d["checks"] and (d["decision"] == "APPROVE") == (not d["reasons"])
               for d in decisions)  # fmt: skip
    assert {f["bot_id"] for f in fills} == {"trend-btc", "mm-btc"}
    books = assert_exact_ledger(stack)
    shown = json.loads(run_desk("positions", "--json", env=env).stdout)
    assert {r["bot_id"]: Decimal(r["equity"]) for r in shown["bots"]} == {
        b: Decimal(str(s["equity"])) for b, s in books.items()
    }  # (shown normalised: no trailing zeros)
    open_before = json.loads(run_desk("orders", "--json", env=env).stdout)["orders"]
    # quotes usually rest at the day's end; under load the venue may run so far ahead of the
    # orders (arrival order, issue 14) that the last ones crossed and were rejected
    resting = bool(open_before)
    # desk positions: risk reserves exactly what the venue still works, next to the fills
    exposure = {(r["bot_id"], g["symbol"]): g for r in shown["bots"] for g in r["exposure"]}
    mm = exposure[("mm-btc", "binanceus:BTC/USDT")]
    for side, key in (("BUY", "open_buys"), ("SELL", "open_sells")):
        left = sum((Decimal(str(o["quantity"])) - Decimal(str(o["filled_quantity"]))
                    for o in open_before if o["bot_id"] == "mm-btc" and o["side"] == side),
                   Decimal(0))  # fmt: skip
        assert Decimal(mm[key]) == left, (key, mm, left)
    held = [p["quantity"] for p in books["mm-btc"]["positions"] if p["symbol"] == "BTC/USDT"]
    assert Decimal(mm["filled"]) == sum(held, Decimal(0))
    # the operational state in PostgreSQL is the same picture
    equity = {b: s["equity"] for b, s in books.items()}
    wait_for(lambda: dict(pg_rows(stack, "SELECT bot_id, equity FROM balances")) == equity,
             "the Postgres sink to catch up")  # fmt: skip
    assert pg_rows(stack, "SELECT count(*) FROM fills") == [(len(fills),)]
    open_pg = pg_rows(stack, "SELECT client_order_id FROM orders "
                             "WHERE status IN ('ACCEPTED', 'PARTIALLY_FILLED')")  # fmt: skip
    assert sorted(r[0] for r in open_pg) == sorted(o["client_order_id"] for o in open_before)

    # 2. kill: every resting order canceled, no new order approved
    killed = run_desk("kill", "--reason", "test: pull the plug", "--by", "pytest",
                      "--wait", "60", "--json", env=env)  # fmt: skip
    assert killed.returncode == 0, killed.stderr
    report = json.loads(killed.stdout)["cancels"]  # the kill reports how its cancels went
    assert report["open"] == 0 and (report["canceled"] >= 1) == resting, report
    if resting:
        assert report["to_last_cancel_ms"] == 250  # the paper venue's latency, in event time
    wait_for(lambda: not json.loads(run_desk("orders", "--json", env=env).stdout)["orders"],
             "the kill to cancel every open order")  # fmt: skip
    after_kill = bars_from(10, 120)
    publish(producer, after_kill)
    settle(stack, ORDER_TOPICS)
    first_after = after_kill[0]["ts_event"]
    late = [d for d in topic(stack, "risk.decisions") if d["ts_event"] >= first_after]
    new = [d for d in late if d["checks"][0]["name"] != "cancel"]
    assert new and all(d["decision"] == "DENY" for d in new)
    assert all(any(r.startswith("kill_switch") for r in d["reasons"]) for d in new)
    assert not [f for f in topic(stack, "fills") if f["ts_event"] >= first_after]
    states = json.loads(run_desk("positions", "--json", env=env).stdout)["states"]
    assert states["mm-btc"]["killed"] and states["trend-btc"]["state"] == "HALTED"

    # 3. resume needs --confirm; with it, trading continues
    refused = run_desk("resume", "--reason", "checked", env=env)
    assert refused.returncode != 0 and "--confirm" in refused.stderr
    ok = run_desk("resume", "--confirm", "--reason", "checked, safe", "--by", "pytest", env=env)
    assert ok.returncode == 0, ok.stderr
    time.sleep(2.0)  # the command is applied before the next bars arrive
    resumed_bars = bars_from(10, 360)[len(after_kill) :]
    publish(producer, resumed_bars)
    settle(stack, ORDER_TOPICS)
    first_resumed = resumed_bars[0]["ts_event"]
    after = [d for d in topic(stack, "risk.decisions") if d["ts_event"] >= first_resumed]
    assert any(d["decision"] == "APPROVE" and d["checks"][0]["name"] != "cancel" for d in after)
    assert [f for f in topic(stack, "fills") if f["ts_event"] >= first_resumed]
    assert_exact_ledger(stack)
    resumed = "SELECT bool_and(state = 'ACTIVE' AND NOT killed), count(*) FROM trading_state"
    assert pg_rows(stack, resumed) == [(True, 3)]  # every bot of the desk, the kill lifted
    assert [r[0] for r in pg_rows(stack, "SELECT command FROM risk_commands ORDER BY ts_event")
            ] == ["KILL", "RESUME"]  # fmt: skip

    # 4. restart the agents: the books carry on into the next day from where they were
    before = assert_exact_ledger(stack)

    def per_bot() -> dict[str, list[dict]]:  # one partition per bot: its order is book order
        out: dict[str, list[dict]] = defaultdict(list)
        for snap in topic(stack, "portfolio.snapshots"):
            out[snap["bot_id"]].append(snap)
        return out

    seen = {b: len(snaps) for b, snaps in per_bot().items()}
    assert stack.worker is not None
    stop_process(stack.worker, timeout_s=30)
    stack.start_worker()
    next_day = bars_from(11, 120)
    publish(producer, next_day)
    settle(stack, ORDER_TOPICS)
    after = assert_exact_ledger(stack)  # fills before and after the restart, one ledger
    first = {b: snaps[seen[b]] for b, snaps in per_bot().items() if len(snaps) > seen[b]}
    assert set(first) == set(before)
    for bot, snap in first.items():
        assert snap["trading_day"] == "2023-03-12"
        assert snap["daily_pnl"] == snap["equity"] - before[bot]["equity"]
        assert snap["fees"] >= before[bot]["fees"]
    final = {b: s["equity"] for b, s in after.items()}
    wait_for(lambda: dict(pg_rows(stack, "SELECT bot_id, equity FROM balances")) == final,
             "the Postgres sink to catch up after the restart")  # fmt: skip

    # 5. every event of the run is in ClickHouse once; a re-delivery adds nothing
    from connectors.clickhouse.sink import ClickHouseSink
    from connectors.clickhouse.store import OwnerStore

    store = OwnerStore(stack.store_endpoint)
    produced = {t: topic(stack, t) for t in (*ORDER_TOPICS, "market.bars.clean", "venue.reports")}

    def stored(name: str, events: list[dict]) -> int:
        """Distinct ids held: the store is shared with the session, and the control-plane
        test replays the same day (the same deterministic ids) before this one."""
        ids = ",".join(f"'{e['event_id']}'" for e in events)
        table = name.replace(".", "_")
        sql = f"SELECT uniqExact(event_id) FROM {table} WHERE event_id IN ({ids})"
        return store.query(sql).rows[0][0]

    # poll gently: each check is a query through the store's owner, beside the sink's inserts
    # (an input the paper venue applies again after a restart re-sends its events: same ids)
    produced = {t: list({e["event_id"]: e for e in ev}.values()) for t, ev in produced.items()}
    pending, deadline = dict(produced), time.monotonic() + 300
    while pending and time.monotonic() < deadline:
        pending = {t: ev for t, ev in pending.items() if stored(t, ev) != len(ev)}
        if pending:
            time.sleep(5)
    assert not pending, f"the ClickHouse sink did not hold every event of {sorted(pending)}"
    assert all(ClickHouseSink(store).write(t, ev) == (0, []) for t, ev in produced.items())
    assert all(stored(t, ev) == len(ev) for t, ev in produced.items())

    # 6. the canned triage queries, through `desk sql` beside the running desk
    def sql(name: str, *params: str) -> dict:
        args = ["sql", "--query", name, "--json"] + [a for p in params for a in ("--param", p)]
        res = run_desk(*args, env=env)
        assert res.returncode == 0, f"{name}: {res.stderr}"
        return json.loads(res.stdout)

    def records(result: dict) -> list[dict]:
        return [dict(zip(result["columns"], row, strict=True)) for row in result["rows"]]

    listed = json.loads(run_desk("sql", "--list", "--json", env=env).stdout)
    assert len(listed) >= 10
    # the first day's fills by event time: an order resting at the day's last bars may fill
    # at the next day's first bar, depending on when the venue saw the command (arrival order)
    day_fills: defaultdict[str, int] = defaultdict(int)
    for f in {f["event_id"]: f for f in topic(stack, "fills")}.values():
        if dt.datetime.fromtimestamp(f["ts_event"] / 1000, dt.UTC).date() == dt.date(2023, 3, 10):
            day_fills[f["bot_id"]] += 1
    per_bot = records(sql("day-per-bot", "day=2023-03-10"))
    assert {r["bot_id"]: r["fills"] for r in per_bot if r["fills"]} == dict(day_fills)
    assert all(r["intents"] == r["approved"] + r["denied"] for r in per_bot)
    orphans = records(sql("fills-without-order"))  # the shared store has test fills of its own
    assert not [r for r in orphans if r["bot_id"] in day_fills]  # every desk fill has its order
    denials = records(sql("denials-by-reason", "since=2023-03-11"))
    assert {"kill_switch"} <= {r["check"] for r in denials}
    changes = records(sql("trading-state-changes"))
    # (the store is shared: the control-plane scenario's commands of 2023-03-14 are there too)
    commands = [(r["what"], r["by"]) for r in changes if r["kind"] == "command"
                and r["by"] == "pytest"]  # fmt: skip
    assert commands == [("KILL", "pytest"), ("RESUME", "pytest")], [
        (r["finding"], r["severity"], r["message"]) for r in topic(stack, "recon.reports")
    ]
    moves = {r["what"] for r in changes if r["kind"] == "state"}
    assert {"ACTIVE -> HALTED", "HALTED -> ACTIVE"} <= moves  # seen in the decisions
    # the venue agrees with the desk's fills, exactly, at every report: before the worker
    # restart and after it (the paper accounts come back from their checkpoint)
    drift = [r for r in records(sql("position-drift"))  # (the store is shared: its own days)
             if r["venue"] == "binanceus" and "2023-03-10" <= r["at"] < "2023-03-13"]  # fmt: skip
    restart = dt.datetime.fromtimestamp(next_day[0]["ts_event"] / 1000, dt.UTC)
    after_restart = [r for r in drift if r["at"] >= restart.strftime("%Y-%m-%dT%H:%M:%S")]
    assert after_restart and len(drift) > len(after_restart)
    assert not [r for r in drift if Decimal(r["drift"])]
    for r in records(sql("pnl-attribution")):  # price + fees = net, to the last decimal
        assert Decimal(r["price_pnl"]) + Decimal(r["fees_pnl"]) == Decimal(r["net_pnl"])
    hops = {r["hop"]: r for r in records(sql("event-lag"))}
    assert hops["1 intent -> decision"]["events"] >= len(topic(stack, "risk.decisions"))
    assert all(r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"] for r in hops.values())
    worst = records(sql("worst-slippage", "limit=5"))
    assert len(worst) == 5
    assert [r["slippage_bps"] for r in worst] == sorted((r["slippage_bps"] for r in worst),
                                                        reverse=True)  # fmt: skip
    trace = records(sql("order-trace", f"order={fills[0]['client_order_id']}"))
    assert {"orders.intents", "risk.decisions", "orders.commands", "orders.events",
            "fills"} <= {r["topic"] for r in trace}  # fmt: skip
    assert any(r["venue"] == "binanceus" for r in records(sql("dq-by-venue")))
    dead = sql("deadletters-by-reason")  # (the store is shared: other tests' letters count)
    assert dead["columns"][:4] == ["topic", "agent", "error_kind", "reason"]
    assert all(r["letters"] > 0 for r in records(dead))

    # 7. the kill and the resume are in the audit trail, once each, and the chain verifies
    trail = json.loads(run_desk("audit", "show", "--json", "--kind", "risk_command.",
                                env=env).stdout)["entries"]  # fmt: skip
    assert [(e["kind"], e["actor"]) for e in trail] == [
        ("risk_command.KILL", "pytest"), ("risk_command.RESUME", "pytest")]  # fmt: skip
    assert trail[1]["body"]["confirmed"] is True and trail[1]["body"]["reason"] == "checked, safe"
    verified = run_desk("audit", "verify", "--json", env=env)
    assert verified.returncode == 0 and json.loads(verified.stdout)["entries_checked"] == 2

    # 8. reconciliation: the venue's reports agree with the desk's books, in the stream (the
    # recon agent, re-baselined after the restart) and in one pass over the topics
    once = run_desk("reconcile", "--once", "--json", env=env)
    assert once.returncode == 0, once.stdout + once.stderr
    passed = json.loads(once.stdout)
    assert passed["accounts"] and passed["fills"] == len(topic(stack, "fills"))
    assert passed["critical"] == 0, passed["findings"]
    streamed = [r for r in topic(stack, "recon.reports") if r["severity"] == "CRITICAL"]
    assert streamed == []

    # 9. parity: the shadow fill model against the realized fills, in the stream (windows
    # closed a window ago) and on demand over the topics
    in_stream = topic(stack, "parity.reports")
    assert {r["bot_id"] for r in in_stream} == {"trend-btc", "mm-btc"}
    assert all(len(r["metrics"]) == 5 for r in in_stream)
    on_demand = run_desk("parity", "report", "--json", env=env)
    assert on_demand.returncode in (0, 1), on_demand.stderr  # 1: a WARNING window
    result = json.loads(on_demand.stdout)
    assert {r["bot_id"] for r in result["reports"]} == {"trend-btc", "mm-btc"}
    assert result["warnings"] == sum(r["status"] == "WARNING" for r in result["reports"])
