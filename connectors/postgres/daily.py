"""The daily ticket's rows in PostgreSQL: end-of-day prices, tickets with their intended
trades, confirmed fills (migration 0006). Every write is idempotent or all-or-nothing:
a re-run of the same day changes nothing, a rejected confirmation writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg

from streams.errors import DeskError


def save_prices(dsn: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """``market_prices_eod`` rows (symbol, day, source, adj_close, close, volume); returns
    how many were new (a re-run of the same files adds none)."""
    with psycopg.connect(dsn, connect_timeout=5) as conn, conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE eod_in (LIKE market_prices_eod INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        with conn.cursor().copy(
            "COPY eod_in (symbol, day, source, adj_close, close, volume) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row(
                    (r["symbol"], r["day"], r["source"], r["adj_close"], r["close"], r["volume"])
                )
        cur = conn.execute(
            "INSERT INTO market_prices_eod SELECT * FROM eod_in ON CONFLICT DO NOTHING"
        )
        return cur.rowcount


def save_ticket(dsn: str, ticket: Mapping[str, Any]) -> bool:
    """The ticket and its intended lines; False if this ticket id was already stored (the
    same id is the same inputs: the same ticket)."""
    plan = ticket.get("plan") or {}
    with psycopg.connect(dsn, connect_timeout=5) as conn, conn.transaction():
        cur = conn.execute(
            "INSERT INTO tickets (ticket_id, trading_day, status, body) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (ticket_id) DO NOTHING",
            (ticket["ticket_id"], ticket["as_of"], ticket["decision"], json.dumps(ticket)),
        )
        if cur.rowcount == 0:
            return False
        conn.cursor().executemany(
            "INSERT INTO ledger_trades_intended (ticket_id, line_no, symbol, side, units, price, "
            "price_currency, notional_account, account_currency) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    ticket["ticket_id"],
                    i,
                    ln["symbol"],
                    ln["side"],
                    ln["units"],
                    ln["price"],
                    ln["price_currency"],
                    ln["notional_account"],
                    plan["account_currency"],
                )
                for i, ln in enumerate(plan.get("lines", []), start=1)
            ],
        )
    return True


def ticket(dsn: str, ticket_id: str) -> dict[str, Any]:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT body FROM tickets WHERE ticket_id = %s", (ticket_id,)).fetchone()
    if row is None:
        raise DeskError(f"no ticket {ticket_id} (desk tickets last lists them)")
    return dict(row[0])


def last_tickets(dsn: str, n: int = 10) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT t.ticket_id, t.trading_day, t.status, t.created_at, "
            "(SELECT count(*) FROM ledger_trades_intended i WHERE i.ticket_id = t.ticket_id), "
            "(SELECT count(*) FROM ledger_trades_fills f WHERE f.ticket_id = t.ticket_id) "
            "FROM tickets t ORDER BY t.trading_day DESC, t.created_at DESC LIMIT %s",
            (n,),
        ).fetchall()
    return [
        {
            "ticket_id": r[0],
            "as_of": r[1].isoformat(),
            "decision": r[2],
            "created_at": r[3].isoformat(),
            "lines": r[4],
            "fills": r[5],
        }
        for r in rows
    ]


def confirmed(dsn: str, ticket_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The fills already confirmed for the ticket, and the files they came from."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT symbol, side, units, price, currency, fee, executed_at, file_sha256 "
            "FROM ledger_trades_fills WHERE ticket_id = %s ORDER BY fill_no",
            (ticket_id,),
        ).fetchall()
    fills = [
        {
            "symbol": r[0],
            "side": r[1],
            "units": str(r[2]),
            "price": str(r[3]),
            "currency": r[4],
            "fee": str(r[5]),
            "executed_at": r[6].isoformat(),
        }
        for r in rows
    ]
    return fills, sorted({r[7] for r in rows})


def save_fills(
    dsn: str, ticket_id: str, fills: Sequence[Mapping[str, Any]], file_sha: str, by: str
) -> int:
    """All the fills of one confirmation, and its ``confirmations`` row, in one transaction
    (under a lock on the ticket: two confirmations never interleave their numbering)."""
    with psycopg.connect(dsn, connect_timeout=5) as conn, conn.transaction():
        conn.execute("SELECT 1 FROM tickets WHERE ticket_id = %s FOR UPDATE", (ticket_id,))
        start = conn.execute(
            "SELECT coalesce(max(fill_no), 0) FROM ledger_trades_fills WHERE ticket_id = %s",
            (ticket_id,),
        ).fetchone()[0]  # type: ignore[index]
        conn.cursor().executemany(
            "INSERT INTO ledger_trades_fills (ticket_id, fill_no, symbol, side, units, price, "
            "currency, fee, executed_at, file_sha256) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s)",
            [
                (
                    ticket_id,
                    start + i,
                    f["symbol"],
                    f["side"],
                    f["units"],
                    f["price"],
                    f["currency"],
                    f["fee"],
                    f["executed_at"],
                    file_sha,
                )
                for i, f in enumerate(fills, start=1)
            ],
        )
        conn.execute(
            "INSERT INTO confirmations (subject_kind, subject_id, confirmed_by, reason) "
            "VALUES ('ticket', %s, %s, %s)",
            (ticket_id, by, f"{len(fills)} fill(s), file sha256 {file_sha}"),
        )
    return len(fills)


def import_universe(
    dsn: str, rows: Sequence[Mapping[str, Any]], sha256: str, source: str
) -> dict[str, Any]:
    """Make ``config_universe`` exactly these rows, in one transaction; returns what was
    added, changed and removed (nothing, for a file already imported as it is)."""
    with psycopg.connect(dsn, connect_timeout=5) as conn, conn.transaction():
        conn.execute("LOCK TABLE config_universe IN EXCLUSIVE MODE")
        before = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT symbol, type, enabled, benchmark, calendar, sources FROM config_universe"
            ).fetchall()
        }
        after = {
            r["symbol"]: (r["type"], r["enabled"], r["benchmark"], r["calendar"], r["sources"])
            for r in rows
        }
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(s for s in set(after) & set(before) if after[s] != before[s])
        if removed:
            conn.execute("DELETE FROM config_universe WHERE symbol = ANY(%s)", (removed,))
        conn.cursor().executemany(
            "INSERT INTO config_universe (symbol, type, enabled, benchmark, calendar, sources, "
            "import_sha) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (symbol) DO UPDATE SET "
            "type = EXCLUDED.type, enabled = EXCLUDED.enabled, benchmark = EXCLUDED.benchmark, "
            "calendar = EXCLUDED.calendar, sources = EXCLUDED.sources, "
            "import_sha = EXCLUDED.import_sha",
            [(s, *v[:4], json.dumps(v[4], sort_keys=True), sha256) for s, v in after.items()],
        )
        same = bool(before) and not (added or changed or removed)
        if not same:
            conn.execute(
                "INSERT INTO universe_imports (sha256, source, rows_total, added, changed, "
                "removed) VALUES (%s, %s, %s, %s, %s, %s)",
                (sha256, source, len(after), added, changed, removed),
            )
        return {
            "sha256": sha256,
            "rows": len(after),
            "added": added,
            "changed": changed,
            "removed": removed,
            "unchanged": same,
        }


def universe(dsn: str) -> list[dict[str, Any]]:
    """The imported universe, by symbol."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT symbol, type, enabled, benchmark, calendar, sources, import_sha "
            "FROM config_universe ORDER BY symbol"
        ).fetchall()
    keys = ("symbol", "type", "enabled", "benchmark", "calendar", "sources", "import_sha")
    return [dict(zip(keys, r, strict=True)) for r in rows]
