"""Backtest records in the analytics store: written in chunks, read back for list / show /
compare (``analytics/migrations/0003_backtest.sql``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connectors.clickhouse.store import Store
from streams.errors import DeskError

CHUNK = 5000
_RUN_ID = re.compile(r"^bt-[0-9a-f]{1,16}$")


def save(store: Store, tables: Iterable[tuple[str, Sequence[Mapping[str, Any]]]]) -> int:
    """Insert every table's rows (``backtest_run`` comes last: a run listed is a run whole);
    returns the rows written."""
    written = 0
    for table, rows in tables:
        for i in range(0, len(rows), CHUNK):
            chunk = rows[i : i + CHUNK]
            body = "\n".join(json.dumps(r, separators=(",", ":")) for r in chunk).encode()
            store.insert(table, body)
            written += len(chunk)
    return written


def runs(store: Store) -> list[dict[str, Any]]:
    """Every recorded run, oldest data first."""
    res = store.query(
        "SELECT run_id, strategies, bots, first_ts, last_ts, bars, fills, net_profit, "
        "max_drawdown, sharpe, fill_model_bias, code_version FROM backtest_run FINAL "
        "ORDER BY first_ts, run_id"
    )
    return [dict(zip(res.columns, row, strict=True)) for row in res.rows]


def resolve(store: Store, ref: str) -> str:
    """A run id from the id or a unique prefix of it; a one-line error otherwise."""
    if not _RUN_ID.match(ref):
        raise DeskError(
            f"{ref!r} is not a run id (bt- and up to 16 hex digits; desk backtest list)"
        )
    res = store.query(
        f"SELECT DISTINCT run_id FROM backtest_run FINAL WHERE startsWith(run_id, '{ref}')"
    )
    found = sorted(r[0] for r in res.rows)
    if not found:
        raise DeskError(f"no backtest run {ref} (desk backtest list shows them)")
    if len(found) > 1:
        raise DeskError(f"{ref} is ambiguous: {', '.join(found)}")
    return found[0]


def summary(store: Store, run_id: str) -> dict[str, Any]:
    res = store.query(f"SELECT summary FROM backtest_run FINAL WHERE run_id = '{run_id}'")
    if not res.rows:
        raise DeskError(f"no backtest run {run_id}")
    return json.loads(res.rows[0][0])


def equity(store: Store, run_id: str) -> list[tuple[int, str, str]]:
    """(bar time, bot, equity) of every bot bar of the run, in time order."""
    res = store.query(
        "SELECT ts_event, bot_id, equity FROM backtest_bar FINAL "
        f"WHERE run_id = '{run_id}' ORDER BY ts_event, bot_id"
    )
    return [(int(ts), str(bot), str(eq)) for ts, bot, eq in res.rows]


BAR_COLUMNS = ("event_id", "ts_event", "ts_ingest", "source", "correlation_id", "venue", "symbol",
               "interval", "open_time", "open", "high", "low", "close", "volume", "trades",
               "adj_close", "quality_flags")  # fmt: skip
_SYMBOL = re.compile(r"^[A-Za-z0-9/._:-]+$")


def stored_bars(
    store: Store, since: int | None, until: int | None, symbols: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The bars the desk recorded (``market_bars``: every replayed or live bar it took), in
    the order a replay sends them, bounded by open time."""
    where = ["1"]
    if since is not None:
        where.append(f"open_time >= {int(since)}")
    if until is not None:
        where.append(f"open_time < {int(until)}")
    if symbols:
        bad = [s for s in symbols if not _SYMBOL.match(s)]
        if bad:
            raise DeskError(f"--symbols {bad[0]!r}: not a symbol")
        where.append("symbol IN (" + ", ".join(f"'{s}'" for s in symbols) + ")")
    res = store.query(
        f"SELECT {', '.join(BAR_COLUMNS)} FROM market_bars FINAL WHERE {' AND '.join(where)} "
        "ORDER BY ts_event, venue, symbol"
    )
    return [dict(zip(BAR_COLUMNS, row, strict=True)) for row in res.rows]
