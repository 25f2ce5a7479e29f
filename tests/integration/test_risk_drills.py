"""Risk under lag and outages, on the real embedded stack with the shared crypto data.

The lag drill replays three days at ``asap`` (2023-03-02..04) and two days at
``x600`` (2023-03-05..06), on two desks at once, both reference bots trading,
desk-wide limits set so that net BTC exposure breaches during each window
(REDUCE: from then on only orders that cut a position may pass). It checks
what an operator would: no portfolio snapshot in ClickHouse exceeds a limit,
the long-only bots are never short (not in any snapshot, not in the fills),
and after portfolio risk's breach at event time t no order that
is not reducing is approved for an intent after t.

The outage drill stops PostgreSQL mid-replay (risk keeps deciding, nothing
passes a limit), then shuts it down, kills the desk while it is down (the kill
is acknowledged as durable through the local journal), restarts the whole
desk, and checks the kill is still in force and in the audit trail.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from streams.kafka import EventProducer, decode_all, read_topic
from streams.runtime.proc import free_port
from streams.runtime.stack import Stack
from streams.settings import DeskSettings, load_settings
from tests.conftest import REPO, SHARED_DATA, desk_config_file, run_desk, wait_for

CRYPTO = SHARED_DATA / "crypto_1m"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CRYPTO.exists(), reason="../shared/data not present"),
]
FILES = [str(CRYPTO / f"binanceus_BTC{q}_1m_2023-03-01_2023-03-21.csv") for q in
         ("USD", "USDT", "USDC")]  # fmt: skip
DRILLS = {  # speed -> (topic prefix, since, until, net BTC exposure that breaches: REDUCE)
    # at asap few orders fill, or none (the venue sees the bars before the orders, issue 14):
    # a low level, which must breach if the desk's exposure passes it
    "asap": ("lagA.", "2023-03-02", "2023-03-05", "4000"),
    # at x600 the bots trade for hours first (in process the breach comes at 03-05 07:02);
    # twelve hours: the breach and five hours after it (72 s of feed, was 4.8 min for two days)
    "x600": ("lagX.", "2023-03-05T00:00", "2023-03-05T12:00", "30000"),
}


def breach_at(level: str) -> dict:
    levels = {"warning": str(int(level) // 2), "breach": level}
    return {"version": "lag-drill-1", "net_exposure": {"BTC": levels}}


LONG_ONLY = ("trend-btc", "mm-btc")


def start_desk(
    tmp: Path,
    prefix: str,
    clickhouse: str,
    supervise: bool | tuple[str, ...] = True,
    **config: object,
) -> Stack:
    settings = load_settings(
        data_dir=tmp,
        topic_prefix=prefix,
        metrics_port=free_port(),
        config_file=desk_config_file(tmp, **config),
        clickhouse_url=clickhouse,  # one chDB per process: the session's
    )
    stack = Stack(settings, with_agents=True, supervise=supervise)
    stack.start()
    return stack


def env_of(stack: Stack) -> dict[str, str]:
    s = stack.settings
    return {"DESK_DATA_DIR": str(s.data_path), "DESK_CONFIG_FILE": str(s.config_file),
            "DESK_BROKER_URL": stack.broker.bootstrap,
            "DESK_TOPIC_PREFIX": s.topic_prefix}  # fmt: skip


def topic(stack: Stack, name: str) -> list[dict]:
    return decode_all(read_topic(stack.broker.bootstrap, name, stack.settings.topic_prefix,
                                 idle_s=1.0))  # fmt: skip


def replay(stack: Stack, since: str, until: str, speed: str) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")} | env_of(stack)
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "feed", "replay", *FILES, "--speed", speed,
         "--since", since, "--until", until, "--json"],
        env=full, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def drained(stack: Stack) -> bool:
    """Every intent decided and every approved order answered by the venue."""
    intents = {i["event_id"] for i in topic(stack, "orders.intents")}
    decisions = topic(stack, "risk.decisions")
    events = {e["client_order_id"] for e in topic(stack, "orders.events")}
    submits = [c for c in topic(stack, "orders.commands") if c["command"] == "SUBMIT"
               and c["decision_id"] is not None]  # fmt: skip
    return (
        bool(intents)
        and intents <= {d["intent_id"] for d in decisions}
        and {c["client_order_id"] for c in submits} <= events
    )


def reducing_approval(d: dict) -> bool:
    state = next(c for c in d["checks"] if c["name"] == "trading_state")
    return state["value"] == "REDUCING" and state["detail"] == "reducing order allowed"


@pytest.fixture(scope="module")
def lag_desks(
    tmp_path_factory: pytest.TempPathFactory, stack_settings: DeskSettings
) -> Iterator[dict[str, Stack]]:
    desks: dict[str, Stack] = {}
    try:
        for speed, (prefix, _s, _u, level) in DRILLS.items():
            tmp = tmp_path_factory.mktemp(f"lag-{speed}")
            ch = stack_settings.clickhouse_dsn
            desks[speed] = start_desk(tmp, prefix, ch, portfolio_risk=breach_at(level))
        yield desks
    finally:
        for s in desks.values():
            s.stop()


@pytest.mark.timeout(1500)
def test_risk_holds_at_asap_and_at_x600(lag_desks: dict[str, Stack], stack: Stack) -> None:
    runs = {speed: replay(lag_desks[speed], since, until, speed)
            for speed, (_p, since, until, _l) in DRILLS.items()}  # fmt: skip
    for speed, proc in runs.items():
        _out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"{speed}: {err[-2000:]}"
    limits = None
    report = {}
    for speed, desk in lag_desks.items():
        wait_for(lambda d=desk: drained(d), f"the {speed} desk to drain", limit_s=600)
        cfg = desk_limits(desk)
        limits = cfg
        decisions = topic(desk, "risk.decisions")
        fills = topic(desk, "fills")
        snaps = topic(desk, "portfolio.snapshots")
        new = [d for d in decisions if d["checks"][0]["name"] != "cancel"]
        assert [d for d in new if d["decision"] == "APPROVE"], f"{speed}: risk approved some"
        if speed == "x600":  # at asap the venue may run ahead of every order (issue 14)
            assert [f for f in fills if f["bot_id"] in LONG_ONLY], f"{speed}: the bots traded"

        # the long-only bots are never short: in the fills, in event order, and in any book
        held: Counter[str] = Counter()
        for f in sorted(fills, key=lambda f: (f["ts_event"], f["event_id"])):
            held[f["bot_id"]] += f["quantity"] if f["side"] == "BUY" else -f["quantity"]
            assert held[f["bot_id"]] >= 0, f"{speed}: {f['bot_id']} short at {f['ts_event']}"
        for s in snaps:
            assert all(Decimal(p["quantity"]) >= 0 for p in s["positions"]), s

        # a portfolio-risk breach stops approvals from its event time on
        breaches = [c for c in topic(desk, "risk.commands") if c["issued_by"] == "portfolio-risk"]
        # (10% over the level: the agent may see the bots' books in another interleaving)
        if net_exposure_crossed(snaps, Decimal(DRILLS[speed][3]) * Decimal("1.1")):
            assert breaches, f"{speed}: net exposure went past the level, no breach"
        if speed == "x600":
            assert breaches, f"{speed}: the drill's limits should breach"
        t = min((c["ts_event"] for c in breaches), default=None)
        after = [d for d in new if t is not None and d["ts_event"] > t
                 and d["decision"] == "APPROVE"]  # fmt: skip
        opening = [d["event_id"] for d in after if not reducing_approval(d)]
        assert not opening, f"{speed}: approved after the breach: {opening[:5]}"
        report[speed] = {
            "decisions": len(new),
            "approved": sum(d["decision"] == "APPROVE" for d in new),
            "denied_by": Counter(r.split(":")[0] for d in new for r in d["reasons"]).most_common(4),
            "fills": len(fills),
            "breach_at": t,
            "approved_after_breach(reducing)": len(after),
        }
        mine = [s for s in snaps if s["bot_id"] in LONG_ONLY]
        if mine:
            lo, hi = min(s["ts_event"] for s in mine), max(s["ts_event"] for s in mine)
            check_clickhouse(stack, lo, hi, cfg, speed, len(mine))
    assert limits is not None
    print("\nlag drill:", json.dumps(report, indent=1, default=str))


def net_exposure_crossed(snaps: list[dict], level: Decimal) -> bool:
    """Whether the desk's net BTC exposure (latest book of each bot, in topic order) ever
    went past ``level``: then portfolio risk must have breached. Computed here, not by
    the core under test."""
    latest: dict[str, dict] = {}
    for s in snaps:
        latest[s["bot_id"]] = s
        net = sum((Decimal(p["market_value"]) for b in latest.values() for p in b["positions"]
                   if p["symbol"].split("/")[0] == "BTC"), Decimal(0))  # fmt: skip
        if abs(net) > level:
            return True
    return False


def desk_limits(desk: Stack) -> object:
    from streams.config import load_config

    return load_config(desk.settings.config_file).limits


def check_clickhouse(stack: Stack, lo: int, hi: int, limits: object, speed: str,
                     expected: int) -> None:  # fmt: skip
    """Every snapshot of the window in ClickHouse: within the position limit, never short."""
    where = f"bot_id IN ('trend-btc', 'mm-btc') AND ts_event BETWEEN {lo} AND {hi}"

    def rows() -> list:
        return list(stack.query_clickhouse(  # type: ignore[attr-defined]
            f"SELECT count() FROM portfolio_snapshots WHERE {where}").rows)  # fmt: skip

    wait_for(lambda: rows()[0][0] >= expected, f"ClickHouse to hold the {speed} snapshots",
             limit_s=300)  # fmt: skip
    worst = stack.query_clickhouse(  # type: ignore[attr-defined]
        "SELECT max(abs(toDecimal128(JSONExtractString(p, 'market_value'), 8))),"
        " min(toDecimal128(JSONExtractString(p, 'quantity'), 18)) FROM portfolio_snapshots"
        f" ARRAY JOIN positions AS p WHERE {where}"
    ).rows[0]
    cap = limits.max_position_notional  # type: ignore[attr-defined]
    assert Decimal(str(worst[0])) <= cap, f"{speed}: a position worth {worst[0]} > {cap}"
    assert Decimal(str(worst[1])) >= 0, f"{speed}: a long-only bot was short: {worst[1]}"


def pg_processes(pgdata: Path) -> list[int]:
    """The postmaster (from its pid file) and every backend it forked."""
    master = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@pytest.fixture(scope="module")
def outage_desk(
    tmp_path_factory: pytest.TempPathFactory, stack_settings: DeskSettings
) -> Iterator[Stack]:
    # PostgreSQL is left down on purpose here (a disk gone, say): the supervisor restarts the
    # broker and the worker, and only reports PostgreSQL
    desk = start_desk(tmp_path_factory.mktemp("outage"), "out.", stack_settings.clickhouse_dsn,
                      supervise=("broker", "worker"))  # fmt: skip
    try:
        yield desk
    finally:
        desk.stop()


def test_postgres_stall_then_kill_while_down_then_restart(outage_desk: Stack) -> None:
    desk = outage_desk
    settings = desk.settings
    pgdata = settings.data_path / "postgres"
    feed = replay(desk, "2023-03-08T00:00", "2023-03-08T12:00", "x600")  # 72 s of feed
    wait_for(lambda: len(topic(desk, "risk.decisions")) > 50, "the desk to trade", limit_s=120)

    # 1. PostgreSQL stalls (every process stopped) for 20 s mid-replay: risk keeps deciding
    # (the desk keeps up with the feed: bars must still be coming for it to decide on)
    assert feed.poll() is None, "the feed ended before the stall"
    stalled = pg_processes(pgdata)
    signal_all(stalled, signal.SIGSTOP)
    try:
        before = len(topic(desk, "risk.decisions"))
        time.sleep(20)
        during = len(topic(desk, "risk.decisions"))
    finally:
        signal_all(stalled, signal.SIGCONT)
    assert during > before, "risk decided nothing while PostgreSQL was stalled"
    _out, err = feed.communicate(timeout=300)
    assert feed.returncode == 0, err[-2000:]
    wait_for(lambda: drained(desk), "the desk to drain after the stall", limit_s=300)
    limits = desk_limits(desk)
    for s in topic(desk, "portfolio.snapshots"):
        for p in s["positions"]:
            assert Decimal(p["quantity"]) >= 0, s  # long-only bots
            assert abs(Decimal(p["market_value"])) <= limits.max_position_notional, s  # type: ignore[attr-defined]

    # 2. PostgreSQL shut down; the operator kills the desk: durable through the journal alone
    signal_all(pg_processes(pgdata)[:1], signal.SIGINT)  # fast shutdown
    wait_for(lambda: not (pgdata / "postmaster.pid").exists(), "PostgreSQL to stop", limit_s=60)
    env = env_of(desk)
    res = run_desk("kill", "--reason", "drill: PostgreSQL down", "--by", "pytest-outage",
                   "--wait", "20", "--json", env=env, timeout=120)  # fmt: skip
    killed = json.loads(res.stdout)
    durable = killed["durability"]
    assert durable["journal"] is True and durable["postgres"] is not True, durable
    assert killed["cancels"]["acted"], killed  # risk applied it: HALTED, cancel-all sent
    # the paper venue checkpoints every input to PostgreSQL, so it cannot cancel while it is
    # down: --wait then says so (exit 1) rather than report a clean kill
    assert res.returncode == (1 if killed["cancels"]["open"] else 0), res.stderr
    status = json.loads(run_desk("status", "--json", env=env).stdout)
    risk = next(p for p in status["parts"] if p["part"] == "risk")
    assert not risk["healthy"] and "FAIL CLOSED" in risk["detail"], risk

    # 3. the whole desk restarts (the embedded broker forgets every topic): the kill holds
    with contextlib.suppress(Exception):  # stopping a PostgreSQL that is already down
        desk.postgres.stop()
    desk.postgres._server = None  # type: ignore[attr-defined]
    desk.stop()
    desk = Stack(settings, with_agents=True)
    desk.start()
    try:
        after_restart(desk)
    finally:
        desk.stop()


def after_restart(desk: Stack) -> None:
    env = env_of(desk)
    # the strategies restart cold: their indicators warm up on the first hour or so
    more = replay(desk, "2023-03-08T12:00", "2023-03-08T18:00", "x1200")
    _out, err = more.communicate(timeout=300)
    assert more.returncode == 0, err[-2000:]

    # the new broker also holds the core's outbox: its latest events from before (up to the
    # 11:59 bar, which closes at noon), published again for the sinks, known by their ids
    noon = 1_678_276_800_000  # 2023-03-08T12:00Z

    def new_decisions() -> list[dict]:
        return [d for d in topic(desk, "risk.decisions")
                if d["checks"][0]["name"] != "cancel" and d["ts_event"] > noon]  # fmt: skip

    wait_for(lambda: len(new_decisions()) > 10, "intents after the restart", limit_s=180)
    passed = [(d["ts_event"], d["bot_id"], d["trading_state"], d["reasons"])
              for d in new_decisions() if d["decision"] != "DENY"]  # fmt: skip
    assert not passed, passed[:3]
    assert all(any(r.startswith("kill_switch") for r in d["reasons"]) for d in new_decisions())
    # what the venue kept from before the restart is canceled: the kill is re-asserted
    wait_for(lambda: not json.loads(run_desk("orders", "--json", env=env).stdout)["orders"],
             "no order left open after the restart")  # fmt: skip
    with psycopg.connect(desk.postgres.dsn) as conn:
        sql = "SELECT count(*) FROM trading_state WHERE killed"
        wait_for(lambda: conn.execute(sql).fetchone()[0] == 3, "PostgreSQL to record the kill")
    trail = json.loads(run_desk("audit", "show", "--json", env=env).stdout)["entries"]
    kills = [e for e in trail if e["kind"] == "risk_command.KILL"]
    assert [e for e in kills if e["actor"] == "pytest-outage"], kills
    status = json.loads(run_desk("status", "--json", env=env).stdout)
    risk = next(p for p in status["parts"] if p["part"] == "risk")
    assert risk["healthy"], risk

    # an unreadable risk command may have been a kill: after the operator's resume, risk
    # fails closed again (only reducing orders) until a confirmed desk-wide resume
    ok = run_desk("resume", "--confirm", "--reason", "drill over", "--by", "pytest-outage",
                  env=env)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    time.sleep(2.0)  # the resume is applied before the garbage arrives
    producer = EventProducer(desk.broker.bootstrap, desk.settings.topic_prefix)
    producer.send_raw("risk.commands", b"desk", b"\x00not a risk command")
    producer.flush()
    wait_for(lambda: [d for d in topic(desk, "deadletter") if d["topic"] == "risk.commands"],
             "the unreadable command to be dead-lettered")  # fmt: skip
    later = replay(desk, "2023-03-08T18:00", "2023-03-08T21:00", "x1200")
    _out, err = later.communicate(timeout=300)
    assert later.returncode == 0, err[-2000:]
    six_pm = 1_678_298_400_000  # 2023-03-08T18:00Z

    def since_six() -> list[dict]:
        return [d for d in new_decisions() if d["ts_event"] > six_pm]

    wait_for(lambda: len(since_six()) > 5, "intents after the garbage", limit_s=180)
    fresh = since_six()
    blocked = [d for d in fresh if any("unreadable risk command" in r for r in d["reasons"])]
    assert blocked, [d["reasons"] for d in fresh][:5]
    for d in fresh:
        if d["decision"] == "APPROVE":  # only what cuts a position
            gate = next(c for c in d["checks"] if c["name"] == "inputs_current")
            assert gate["detail"].endswith("(reducing order allowed)"), gate
