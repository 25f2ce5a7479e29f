"""The facts the gates judge, gathered from where they live: the junit file, the replay
datasets' verify results, the analytics store (every event the desk wrote) and
PostgreSQL (alert deliveries). Read-only; works with the desk running or not."""

from __future__ import annotations

import contextlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from analytics.gates.core import BotActivity, Junit, Verification
from connectors.clickhouse.store import Store
from streams.config import DeskConfig
from streams.errors import DeskError

INTERVAL_MS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


def read_junit(path: Path) -> Junit | None:
    """The suite's result from a junit XML file (pytest ``--junitxml``); None if absent."""
    if not path.is_file():
        return None
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DeskError(f"{path}: not a junit XML file ({exc})") from None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        raise DeskError(f"{path}: no <testsuite> in it")
    failed = tuple(
        f"{case.get('classname', '')}::{case.get('name', '')}"
        for s in suites
        for case in s.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    )

    def total(attr: str) -> int:
        return sum(int(s.get(attr, 0) or 0) for s in suites)

    return Junit(
        str(path),
        total("tests"),
        total("failures"),
        total("errors"),
        total("skipped"),
        int(path.stat().st_mtime * 1000),
        failed,
    )


def read_verifications(datasets: Sequence[Path]) -> list[Verification]:
    from analytics.regression.run import latest_verdict

    out = []
    for root in datasets:
        name = root.name
        with contextlib.suppress(OSError, ValueError, KeyError):
            name = json.loads((root / "manifest.json").read_text())["name"]
        last = latest_verdict(root)
        if last is None:
            out.append(Verification(name, str(root), None, None))
            continue
        result, path = last
        finished = int(datetime.fromisoformat(result["finished_at"]).timestamp() * 1000)
        out.append(Verification(name, str(path), result, finished))
    return out


@dataclass
class DeskFacts:
    """What the analytics store says about the desk, as of its newest clean bar."""

    as_of: int | None
    window: tuple[int, int] | None
    bots: list[BotActivity] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    last_venue_report: dict[str, int] = field(default_factory=dict)
    recon_criticals: list[str] = field(default_factory=list)
    parity_latest: dict[str, tuple[int, str]] = field(default_factory=dict)
    streams: list[str] = field(default_factory=list)
    stream_interval_ms: dict[str, int] = field(default_factory=dict)
    last_clean: dict[str, int] = field(default_factory=dict)
    dq_criticals: list[str] = field(default_factory=list)  # open: no clean bar since
    dq_resolved: list[str] = field(default_factory=list)
    critical_alert_ids: list[str] = field(default_factory=list)


def _rows(store: Store, sql: str) -> list[list[Any]]:
    return store.query(sql).rows


def _dec(v: Any) -> Decimal:
    return Decimal(str(v))


def desk_facts(store: Store, config: DeskConfig, since: int | None = None) -> DeskFacts:
    """Every fact the desk gates need, over the soak window (``since`` .. the newest bar;
    default: the config's ``gates.soak_hours`` before it)."""
    g = config.gates
    newest = _rows(store, "SELECT count(), max(ts_event) FROM market_bars_clean")[0]
    bots = [b for b in config.bots if b.enabled]
    facts = DeskFacts(None, None)
    facts.accounts = sorted({f"{b.venue}:{b.account}" for b in bots})
    facts.streams = sorted({f"{b.venue}:{s}" for b in bots for s in b.symbols})
    if not int(newest[0]):
        return facts
    as_of = int(newest[1])
    lo = since if since is not None else as_of - g.soak_hours * 3_600_000
    facts.as_of, facts.window = as_of, (lo, as_of)
    win = f"ts_event >= {lo} AND ts_event <= {as_of}"
    warm = lo + g.warmup_minutes * 60_000

    def per_bot(sql: str) -> dict[str, list[Any]]:
        return {str(r[0]): r[1:] for r in _rows(store, sql)}

    decisions = per_bot(
        f"SELECT bot_id, count(), countIf(trading_state = 'ACTIVE') "
        f"FROM risk_decisions FINAL WHERE {win} GROUP BY bot_id"
    )
    fills = per_bot(f"SELECT bot_id, count() FROM fills FINAL WHERE {win} GROUP BY bot_id")
    orders = per_bot(
        f"SELECT bot_id, countIf(command = 'SUBMIT'), countIf(command = 'SUBMIT' AND "
        f"ts_event >= {warm}) FROM orders_commands FINAL WHERE {win} GROUP BY bot_id"
    )
    rejects = per_bot(
        f"SELECT bot_id, count() FROM orders_events FINAL WHERE {win} AND "
        f"status = 'REJECTED' AND ts_event >= {warm} GROUP BY bot_id"
    )
    over_budget = per_bot(
        f"SELECT bot_id, countIf(n > {g.cancel_budget_per_minute}) FROM (SELECT bot_id, "
        f"intDiv(ts_event, 60000) AS m, count() AS n FROM orders_commands FINAL WHERE {win} "
        "AND command IN ('CANCEL', 'CANCEL_ALL') GROUP BY bot_id, m) GROUP BY bot_id"
    )
    # per trading day: traded notional against the day's opening equity
    notional = {
        (str(r[0]), str(r[1])): _dec(r[2])
        for r in _rows(
            store,
            (
                "SELECT bot_id, toString(toDate(fromUnixTimestamp64Milli(ts_event))) AS d, "
                f"sum(price * quantity) FROM fills FINAL WHERE {win} GROUP BY bot_id, d"
            ),
        )
    }
    books = _rows(
        store,
        (
            "SELECT bot_id, trading_day, argMin(equity - daily_pnl, ts_event), "
            "min(daily_pnl / nullIf(equity - daily_pnl, 0)), max(drawdown), max(ts_event) "
            f"FROM portfolio_snapshots FINAL WHERE {win} GROUP BY bot_id, trading_day"
        ),
    )
    last_snap = per_bot(
        "SELECT bot_id, max(ts_event) FROM portfolio_snapshots FINAL "
        f"WHERE ts_event <= {as_of} GROUP BY bot_id"
    )
    minutes = max(1, (as_of - lo) // 60_000)
    for b in bots:
        days = [r for r in books if str(r[0]) == b.id]
        turnover = [
            notional.get((b.id, str(d[1])), Decimal(0)) / _dec(d[2]) for d in days if _dec(d[2]) > 0
        ]
        losses = [-_dec(d[3]) * 100 for d in days if d[3] is not None]
        dec, ords = decisions.get(b.id, [0, 0]), orders.get(b.id, [0, 0])
        facts.bots.append(
            BotActivity(
                bot=b.id,
                decisions=int(dec[0]),
                running_decisions=int(dec[1]),
                fills=int(fills.get(b.id, [0])[0]),
                orders=int(ords[0]),
                orders_after_warmup=int(ords[1]),
                rejects_after_warmup=int(rejects.get(b.id, [0])[0]),
                worst_turnover_x=max(turnover) if days else None,
                worst_daily_loss_pct=max([Decimal(0), *losses]) if days else None,
                max_drawdown_pct=max(_dec(d[4]) for d in days) * 100 if days else None,
                minutes=minutes,
                minutes_over_cancel_budget=int(over_budget.get(b.id, [0])[0]),
                last_snapshot_ms=int(last_snap[b.id][0]) if b.id in last_snap else None,
            )
        )
    facts.last_venue_report = {
        f"{r[0]}:{r[1]}": int(r[2])
        for r in _rows(
            store,
            "SELECT venue, account, max(ts_event) FROM venue_reports FINAL "
            f"WHERE ts_event <= {as_of} GROUP BY venue, account",
        )
    }
    facts.recon_criticals = [
        f"{r[0]}:{r[1]} {r[2]}: {r[3]}"
        for r in _rows(
            store,
            "SELECT venue, account, finding, message FROM recon_reports FINAL "
            f"WHERE {win} AND severity = 'CRITICAL' ORDER BY ts_event LIMIT 20",
        )
    ]
    facts.parity_latest = {
        str(r[0]): (int(r[1]), str(r[2]))
        for r in _rows(
            store,
            "SELECT bot_id, max(ts_event), argMax(status, ts_event) FROM "
            f"parity_reports FINAL WHERE ts_event <= {as_of} GROUP BY bot_id",
        )
    }
    facts.last_clean = {
        f"{r[0]}:{r[1]}": int(r[2])
        for r in _rows(
            store,
            "SELECT venue, symbol, max(ts_event) FROM market_bars_clean "
            f"WHERE ts_event <= {as_of} GROUP BY venue, symbol",
        )
    }
    intervals = {
        f"{r[0]}:{r[1]}": str(r[2])
        for r in _rows(
            store,
            ("SELECT venue, symbol, any(interval) FROM market_bars_clean GROUP BY venue, symbol"),
        )
    }
    facts.stream_interval_ms = {
        s: INTERVAL_MS.get(intervals.get(s, ""), 60_000) for s in facts.streams
    }
    # a CRITICAL finding is open until its stream delivers a clean bar after it (a stale
    # stream that came back, a gap that ended); resolved ones are cited, open ones fail
    for venue, symbol, check, message, ts in _rows(
        store,
        "SELECT venue, symbol, check, message, ts_event FROM dq_reports FINAL "
        f"WHERE {win} AND severity = 'CRITICAL' ORDER BY ts_event LIMIT 1000",
    ):
        stream = f"{venue}:{symbol}"
        if stream not in facts.streams:
            continue  # only the traded streams' findings
        line = f"{stream} {check}: {message}"
        if facts.last_clean.get(stream, 0) > int(ts):
            facts.dq_resolved.append(line)
        else:
            facts.dq_criticals.append(line)
    facts.critical_alert_ids = [
        str(r[0])
        for r in _rows(
            store, f"SELECT event_id FROM alerts FINAL WHERE {win} AND severity = 'CRITICAL'"
        )
    ]
    return facts


def alert_outcomes(dsn: str, critical_ids: Sequence[str]) -> tuple[dict[str, int], int]:
    """Each delivery's final outcome (its last attempt), and how many of the CRITICAL alerts
    have no delivery record at all."""
    import psycopg

    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT outcome, count(*) FROM (SELECT DISTINCT ON (alert_id, sink) outcome "
            "FROM alert_deliveries ORDER BY alert_id, sink, attempt DESC) last GROUP BY outcome"
        ).fetchall()
        known = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT alert_id FROM alert_deliveries WHERE alert_id = ANY(%s)",
                (list(critical_ids),),
            ).fetchall()
        }
    return {str(o): int(n) for o, n in rows}, sum(1 for a in critical_ids if a not in known)
