"""A desk of its own for one drill, the operator's view of it, and what every drill measures
(bars published against stored, orders left PENDING, the ledger identities, ClickHouse
against PostgreSQL). The drills themselves: ``streams.drills``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from streams.runtime.proc import free_port, wait_until
from streams.runtime.stack import Stack
from streams.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "crypto_1m"
QUOTES = ("USD", "USDT", "USDC")


@dataclass
class DrillResult:
    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)

    def to_json(self) -> dict[str, Any]:
        return {"drill": self.name, "passed": self.passed, "figures": self.figures,
                "failures": self.failures}  # fmt: skip


@dataclass
class Window:
    since: str = "2023-03-02T00:00"
    until: str = "2023-03-02T03:00"
    speed: str = "x300"


def bar_files(data: Path = DEFAULT_DATA) -> list[str]:
    files = [data / f"binanceus_BTC{q}_1m_2023-03-01_2023-03-21.csv" for q in QUOTES]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        from streams.errors import DeskError

        raise DeskError(f"drill data not found: {missing[0]} (the shared crypto bars)")
    return [str(f) for f in files]


class DrillDesk:
    """A desk of its own for one drill, and the operator's view of it."""

    def __init__(
        self,
        directory: Path,
        prefix: str,
        clickhouse_url: str | None = None,
        config_file: Path | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.settings = load_settings(
            data_dir=directory,
            topic_prefix=prefix,
            metrics_port=free_port(),
            **({"clickhouse_url": clickhouse_url} if clickhouse_url else {}),
            **({"config_file": config_file} if config_file else {}),
        )
        self.stack = Stack(self.settings, with_agents=True)
        self.published = 0
        self.lo_ms: int | None = None  # the event-time span this desk replayed
        self.hi_ms: int | None = None

    def start(self) -> None:
        self.stack.start()

    def stop(self) -> None:
        self.stack.stop()

    def env(self) -> dict[str, str]:
        s = self.settings
        base = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
        broker = self.stack.broker.bootstrap
        return base | {"DESK_DATA_DIR": str(s.data_path), "DESK_BROKER_URL": broker,
                       "DESK_TOPIC_PREFIX": s.topic_prefix}  # fmt: skip

    def replay(self, files: list[str], w: Window) -> subprocess.Popen[str]:
        lo, hi = (to_ms(x) for x in (w.since, w.until))
        self.lo_ms = lo if self.lo_ms is None else min(self.lo_ms, lo)
        self.hi_ms = hi if self.hi_ms is None else max(self.hi_ms, hi)
        args = [sys.executable, "-m", "streams.cli", "feed", "replay", *files, "--speed", w.speed,
                "--since", w.since, "--until", w.until, "--json"]  # fmt: skip
        return subprocess.Popen(args, env=self.env(), cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    def finish(self, proc: subprocess.Popen[str], timeout_s: float = 600) -> dict[str, Any]:
        out, err = proc.communicate(timeout=timeout_s)
        if proc.returncode != 0:
            raise RuntimeError(f"replay failed ({proc.returncode}): {err.strip()[-500:]}")
        summary = json.loads(out)
        self.published += int(summary["bars"])
        return summary

    # -- what the stores hold ----------------------------------------------------------------

    def ch(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.stack.query_clickhouse(sql).rows]

    def stored_bars(self, table: str = "market_bars") -> tuple[int, int]:
        """(rows, distinct event ids) of the bars this desk replayed, in a bar table (a shared
        store holds other desks' windows too: drills use windows of their own)."""
        sql = (f"SELECT count(), uniqExact(event_id) FROM {table} "
               f"WHERE open_time >= {self.lo_ms} AND open_time < {self.hi_ms}")  # fmt: skip
        ((n, ids),) = self.ch(sql)
        return int(n), int(ids)

    def pg(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.stack.postgres.dsn, connect_timeout=5) as conn:
            return list(conn.execute(sql).fetchall())

    def orders_by_status(self) -> dict[str, int]:
        return {s: int(n) for s, n in self.pg("SELECT status, count(*) FROM orders GROUP BY 1")}

    def fills(self) -> int:
        return int(self.pg("SELECT count(*) FROM fills")[0][0])

    def settle(self, want_bars: int, limit_s: float = 180, quiet_s: float = 3.0) -> float:
        """Wait until ClickHouse holds every published bar and PostgreSQL has no PENDING
        order, its orders unchanged for ``quiet_s`` (the last bars' orders reach the sink a
        moment after the bars reach ClickHouse: a PENDING count of 0 before they land is not
        a settled desk); returns the seconds it took."""
        t0 = time.monotonic()
        seen: dict[str, Any] = {"orders": None, "since": t0}

        def settled() -> bool:
            _n, ids = self.stored_bars()
            orders = self.orders_by_status()
            now = time.monotonic()
            if orders != seen["orders"]:
                seen["orders"], seen["since"] = orders, now
            calm = now - seen["since"] >= quiet_s
            return ids >= want_bars and orders.get("PENDING", 0) == 0 and calm

        wait_until(settled, limit_s, 1.0)
        return round(time.monotonic() - t0, 1)


def ledger_breaks(desk: DrillDesk) -> list[str]:
    """The ledger identities, store against store: every bot's books (the portfolio's and
    risk's own checkpoints) hold exactly the fills PostgreSQL recorded: per position the sum
    of signed fill quantities, and cash = starting cash - sum(signed qty x price) - fees."""
    from decimal import Decimal

    fills: dict[tuple[str, str, str], Decimal] = {}
    spent: dict[str, Decimal] = {}
    for bot, venue, symbol, qty, notional, fee in desk.pg(
        "SELECT bot_id, venue, symbol, sum(CASE WHEN side = 'BUY' THEN quantity ELSE -quantity"
        " END), sum(CASE WHEN side = 'BUY' THEN quantity * price ELSE -quantity * price END),"
        " sum(fee) FROM fills GROUP BY 1, 2, 3"
    ):
        fills[(bot, venue, symbol)] = Decimal(qty)
        spent[bot] = spent.get(bot, Decimal(0)) + Decimal(notional) + Decimal(fee)
    # the fused core's checkpoint shows both nodes' books (``views``)
    name = f"{desk.settings.topic_prefix}desk-core"
    core = desk.pg(f"SELECT state FROM agent_checkpoints WHERE name = '{name}'")
    views = core[0][0].get("views", {}) if core else {}
    holders = {who: views[node]["books"] for who, node in
               (("portfolio", "portfolio"), ("risk", "risk")) if node in views}  # fmt: skip
    breaks = [] if holders else [f"no books in the {name} checkpoint"]
    for who, held in holders.items():
        for bot, st in held.items():
            pos = {(p["venue"], p["symbol"]): Decimal(p["quantity"])
                   for p in st["positions"].values()}  # fmt: skip
            mine = {(v, s): q for (b, v, s), q in fills.items() if b == bot}
            for key in pos.keys() | mine.keys():
                if pos.get(key, Decimal(0)) != mine.get(key, Decimal(0)):
                    breaks.append(f"{who} {bot} {key[1]}: book {pos.get(key)} != fills "
                                  f"{mine.get(key)}")  # fmt: skip
            cash = Decimal(st["starting_cash"]) - spent.get(bot, Decimal(0))
            # (the books compute in 28 significant digits: a last-digit rounding is no break)
            if abs(Decimal(st["cash"]) - cash) > Decimal("1e-9"):
                breaks.append(f"{who} {bot} cash: book {st['cash']} != fills {cash}")
    return breaks


def stores_disagree(desk: DrillDesk) -> list[str]:
    """What PostgreSQL holds and ClickHouse does not: fills, and the submits of the orders
    (each store is written by its own sink; both must end up with every event)."""
    fills = [f for (f,) in desk.pg("SELECT event_id FROM fills")]
    orders = [o for (o,) in desk.pg("SELECT client_order_id FROM orders")]
    out = []
    for what, ids, sql in (
        ("fills", fills, "SELECT DISTINCT event_id FROM fills WHERE event_id IN ({})"),
        ("submits", orders, "SELECT DISTINCT client_order_id FROM orders_commands "
                            "WHERE command = 'SUBMIT' AND client_order_id IN ({})"),
    ):  # fmt: skip
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            got = {x for (x,) in desk.ch(sql.format(", ".join(f"'{x}'" for x in chunk)))}
            out += [f"{what} {x} not in ClickHouse" for x in chunk if x not in got]
    return out


def measure(desk: DrillDesk, r: DrillResult) -> None:
    """The figures every drill reports, and the promises every drill checks."""
    settle_s = desk.settle(desk.published)
    raw_n, raw_ids = desk.stored_bars("market_bars")
    clean_n, clean_ids = desk.stored_bars("market_bars_clean")
    orders = desk.orders_by_status()
    r.figures |= {
        "bars_published": desk.published,
        "bars_stored": raw_ids,
        "bars_lost": desk.published - raw_ids,
        "bars_duplicated": raw_n - raw_ids,
        "clean_bars_stored": clean_ids,
        "clean_bars_duplicated": clean_n - clean_ids,
        "orders": orders,
        "orders_pending": orders.get("PENDING", 0),
        "fills": desk.fills(),
        "settle_s": settle_s,
    }
    r.check(raw_ids == desk.published, f"bars lost: {desk.published - raw_ids}")
    r.check(raw_n == raw_ids, f"bars stored twice: {raw_n - raw_ids}")
    r.check(clean_n == clean_ids, f"clean bars stored twice: {clean_n - clean_ids}")
    r.check(orders.get("PENDING", 0) == 0, f"orders left PENDING: {orders.get('PENDING')}")
    # the books are saved behind the stream: give them a few seconds to catch up
    wait_until(lambda: not ledger_breaks(desk), 60, 1.0)
    breaks = ledger_breaks(desk)
    r.figures["ledger_breaks"] = breaks[:5]
    r.check(not breaks, f"books and fills disagree: {breaks[:3]}")
    wait_until(lambda: not stores_disagree(desk), 60, 1.0)
    missing = stores_disagree(desk)
    r.figures["missing_in_clickhouse"] = len(missing)
    r.check(not missing, f"ClickHouse lacks what PostgreSQL holds: {missing[:3]}")


def to_ms(iso: str) -> int:
    import datetime as dt

    t = dt.datetime.fromisoformat(iso)
    return int((t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp() * 1000)


def later(ts: str, w: Window) -> str:
    """The end of a window as long as ``w``, starting at ``ts``."""
    import datetime as dt

    a, b = (dt.datetime.fromisoformat(x) for x in (w.since, w.until))
    return (dt.datetime.fromisoformat(ts) + (b - a)).isoformat(timespec="minutes")
