"""What the dashboard shows, read from the analytics store: every query bounded (a time
window, a row limit, curves bucketed to at most ``POINTS`` points), so a page loads in
well under 2 s on a month of 1-minute events.

Functions take a ``Store`` (``connectors.clickhouse.store``: chDB in the data dir, the
running desk's store endpoint, or a ClickHouse server: the same SQL) and return pandas
frames. Times are event time (ms) unless a column says ``ingest``: a replay of 2023 is
shown in 2023, and freshness is judged on the wall clock of ingestion.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from connectors.clickhouse.store import Store

POINTS = 1500  # most points a curve gets (bucketed in SQL)
BLOTTER_ROWS = 200
ALERT_ROWS = 100
_ID = re.compile(r"^[A-Za-z0-9_.:/-]+$")


def frame(store: Store, sql: str) -> pd.DataFrame:
    res = store.query(sql)
    return pd.DataFrame(res.rows, columns=res.columns)


def _lit(value: str) -> str:
    """A quoted identifier-like literal (bot ids, run ids, symbols), or a refusal."""
    if not _ID.match(value):
        raise ValueError(f"{value!r} is not an id")
    return f"'{value}'"


def window(store: Store) -> tuple[int | None, int | None]:
    """First and last event time the desk's books have (portfolio snapshots)."""
    df = frame(store, "SELECT min(ts_event) AS lo, max(ts_event) AS hi FROM portfolio_snapshots")
    if df.empty or not df["hi"].iloc[0]:
        return None, None
    return int(df["lo"].iloc[0]), int(df["hi"].iloc[0])


def books(store: Store) -> pd.DataFrame:
    """Each bot's latest snapshot: money as exact decimal strings, positions as JSON."""
    last = "(ts_event, ts_ingest)"
    cols = ", ".join(
        f"argMax({c}, {last}) AS {c}"
        for c in (
            "quote_currency",
            "trading_day",
            "cash",
            "equity",
            "peak_equity",
            "drawdown",
            "realized_pnl",
            "unrealized_pnl",
            "daily_pnl",
            "fees",
            "positions",
        )
    )
    return frame(
        store,
        f"SELECT bot_id, {cols}, max(ts_event) AS last_ts, max(ts_ingest) AS last_ingest "
        "FROM portfolio_snapshots FINAL GROUP BY bot_id ORDER BY bot_id",
    )


def positions(books_df: pd.DataFrame) -> pd.DataFrame:
    """One row per bot and instrument from the latest snapshots (filled positions)."""
    rows = []
    for _, b in books_df.iterrows():
        for raw in b["positions"]:
            p = json.loads(raw) if isinstance(raw, str) else raw
            rows.append({"bot_id": b["bot_id"], **p})
    cols = [
        "bot_id",
        "venue",
        "symbol",
        "quantity",
        "avg_cost",
        "mark",
        "market_value",
        "unrealized_pnl",
        "realized_pnl",
    ]
    return pd.DataFrame(rows, columns=cols)


def equity_curves(store: Store, since: int, until: int, points: int = POINTS) -> pd.DataFrame:
    """Equity and drawdown per bot, bucketed to at most ``points`` per bot."""
    bucket = max(60_000, (until - since) // max(points, 1) + 1)
    return frame(
        store,
        f"SELECT bot_id, intDiv(ts_event, {bucket}) * {bucket} AS ts, "
        "argMax(equity, ts_event) AS equity, argMax(drawdown, ts_event) AS drawdown "
        f"FROM portfolio_snapshots FINAL WHERE ts_event BETWEEN {int(since)} AND {int(until)} "
        "GROUP BY bot_id, ts ORDER BY bot_id, ts",
    )


def daily_pnl(store: Store, days: int = 90) -> pd.DataFrame:
    return frame(
        store,
        "SELECT trading_day, bot_id, daily_pnl, equity, max_drawdown FROM pnl_daily "
        "WHERE trading_day IN (SELECT DISTINCT trading_day FROM portfolio_snapshots "
        f"ORDER BY trading_day DESC LIMIT {int(days)}) ORDER BY trading_day, bot_id",
    )


def statuses(store: Store) -> pd.DataFrame:
    """The latest reconciliation, parity and data-quality word, and when it was said
    (ingest wall clock, for its age)."""
    return frame(
        store,
        "SELECT 'reconciliation' AS check, argMax(severity, ts_ingest) AS status, "
        "argMax(message, ts_ingest) AS detail, max(ts_ingest) AS last_ingest, "
        "max(ts_event) AS last_ts, count() AS reports FROM recon_reports "
        "UNION ALL SELECT 'parity', argMax(status, ts_ingest), "
        "concat(toString(countIf(status != 'OK')), ' of ', toString(count()), ' windows not OK'),"
        " max(ts_ingest), max(ts_event), count() FROM parity_reports "
        "UNION ALL SELECT 'data quality', argMax(severity, ts_ingest), argMax(message, ts_ingest),"
        " max(ts_ingest), max(ts_event), count() FROM dq_reports",
    )


def alerts(store: Store, limit: int = ALERT_ROWS) -> pd.DataFrame:
    return frame(
        store,
        "SELECT ts_event, ts_ingest, severity, source, title, message, bot_id FROM alerts FINAL "
        f"ORDER BY ts_event DESC, event_id LIMIT {int(limit)}",
    )


def fills(store: Store, limit: int = BLOTTER_ROWS, bot: str | None = None) -> pd.DataFrame:
    where = f"WHERE bot_id = {_lit(bot)}" if bot else ""
    return frame(
        store,
        "SELECT ts_event, bot_id, venue, symbol, side, price, quantity, fee, fee_currency, "
        f"liquidity, client_order_id, fill_model_bias FROM fills FINAL {where} "
        f"ORDER BY ts_event DESC, event_id LIMIT {int(limit)}",
    )


def counts(store: Store) -> dict[str, int]:
    """Events the desk holds, per table the desk view cares about."""
    df = frame(
        store,
        "SELECT 'fills' AS t, count() AS n FROM fills FINAL UNION ALL "
        "SELECT 'orders', count() FROM orders_commands FINAL WHERE command = 'SUBMIT' UNION ALL "
        "SELECT 'alerts', count() FROM alerts FINAL UNION ALL "
        "SELECT 'snapshots', count() FROM portfolio_snapshots FINAL",
    )
    return {str(r.t): int(r.n) for r in df.itertuples()}


def execution(store: Store) -> pd.DataFrame:
    """Per bot: orders submitted, orders filled, fills, maker fills, fees, notional."""
    return frame(
        store,
        "SELECT o.bot_id AS bot_id, o.orders AS orders, f.filled_orders AS filled_orders, "
        "f.fills AS fills, f.maker AS maker_fills, f.fees AS fees, f.notional AS notional "
        "FROM (SELECT bot_id, count() AS orders FROM orders_commands FINAL "
        "WHERE command = 'SUBMIT' GROUP BY bot_id) AS o "
        "LEFT JOIN (SELECT bot_id, uniqExact(client_order_id) AS filled_orders, count() AS fills,"
        " countIf(liquidity = 'MAKER') AS maker, sum(fee) AS fees, "
        "sum(toDecimal256(quantity, 18) * price) AS notional FROM fills FINAL GROUP BY bot_id) "
        "AS f ON o.bot_id = f.bot_id ORDER BY bot_id",
    )


def parity_metrics(store: Store) -> pd.DataFrame:
    """The fill model against realized execution: each bot's latest window, metric by
    metric (expected, realized, delta, threshold, status)."""
    df = frame(
        store,
        "SELECT bot_id, argMax(metrics, ts_event) AS metrics, argMax(status, ts_event) AS status,"
        " max(window_end) AS window_end, count() AS windows FROM parity_reports FINAL "
        "GROUP BY bot_id ORDER BY bot_id",
    )
    rows = []
    for _, r in df.iterrows():
        for raw in r["metrics"]:
            m = json.loads(raw) if isinstance(raw, str) else raw
            rows.append(
                {"bot_id": r["bot_id"], "window_end": r["window_end"], "windows": r["windows"], **m}
            )
    return pd.DataFrame(
        rows,
        columns=[
            "bot_id",
            "name",
            "expected",
            "realized",
            "delta",
            "threshold",
            "status",
            "window_end",
            "windows",
        ],
    )


def slippage(store: Store) -> pd.DataFrame:
    """Realized slippage per bot over the parity windows (bps; None where unmeasured)."""
    return frame(
        store,
        "SELECT bot_id, ts_event, JSONExtract(m, 'realized', 'Nullable(Float64)') AS slippage_bps "
        "FROM parity_reports FINAL ARRAY JOIN metrics AS m "
        "WHERE JSONExtractString(m, 'name') = 'slippage_bps' "
        f"ORDER BY ts_event LIMIT {POINTS * 4}",
    )


def timeline(store: Store) -> pd.DataFrame:
    """Kill switch commands and trading-state changes (the canned triage query)."""
    from analytics.triage import find

    return frame(store, find("trading-state-changes").render() + f" LIMIT {ALERT_ROWS * 5}")


def latest_states(store: Store) -> pd.DataFrame:
    """Each bot's trading state in risk's latest decision."""
    return frame(
        store,
        "SELECT bot_id, argMax(trading_state, (ts_event, event_id)) AS trading_state, "
        "max(ts_event) AS last_ts FROM risk_decisions FINAL GROUP BY bot_id ORDER BY bot_id",
    )


# -- backtests ------------------------------------------------------------------------------


def backtest_runs(store: Store) -> pd.DataFrame:
    return frame(
        store,
        "SELECT run_id, strategies, bots, first_ts, last_ts, bars, fills, net_profit, "
        "max_drawdown, sharpe, fill_model_bias, code_version FROM backtest_run FINAL "
        "ORDER BY last_ts DESC, run_id LIMIT 500",
    )


def backtest_summary(store: Store, run_id: str) -> dict[str, Any]:
    df = frame(store, f"SELECT summary FROM backtest_run FINAL WHERE run_id = {_lit(run_id)}")
    return json.loads(df["summary"].iloc[0]) if not df.empty else {}


def backtest_equity(store: Store, run_id: str, points: int = POINTS) -> pd.DataFrame:
    """Per bot, equity and drawdown bucketed; the regime the strategy quoted in (if any)."""
    span = frame(
        store,
        "SELECT min(ts_event) AS lo, max(ts_event) AS hi FROM backtest_bar "
        f"WHERE run_id = {_lit(run_id)}",
    )
    if span.empty or span["hi"].iloc[0] is None:
        return pd.DataFrame(columns=["bot_id", "ts", "equity", "drawdown", "regime", "sym"])
    lo, hi = int(span["lo"].iloc[0]), int(span["hi"].iloc[0])
    bucket = max(1, (hi - lo) // max(points, 1) + 1)
    return frame(
        store,
        f"SELECT bot_id, intDiv(ts_event, {bucket}) * {bucket} AS ts, "
        "argMax(equity, ts_event) AS equity, argMax(drawdown, ts_event) AS drawdown, "
        "argMax(JSONExtractString(state, 'quoted_regime'), ts_event) AS regime, "
        "argMax(symbol, ts_event) AS sym "
        f"FROM backtest_bar FINAL WHERE run_id = {_lit(run_id)} GROUP BY bot_id, ts "
        "ORDER BY bot_id, ts",
    )


def backtest_fills(store: Store, run_id: str, limit: int = 5000) -> pd.DataFrame:
    return frame(
        store,
        "SELECT bot_id, ts_event, symbol, side, price, quantity, fee, liquidity "
        f"FROM backtest_fill FINAL WHERE run_id = {_lit(run_id)} ORDER BY ts_event "
        f"LIMIT {int(limit)}",
    )


def _ohlc(store: Store, source: str, time_col: str, points: int) -> pd.DataFrame:
    """Candles of ``source`` bucketed over its own span (one symbol's bars, not the run's
    whole window) to at most ``points``."""
    span = frame(store, f"SELECT min({time_col}) AS lo, max({time_col}) AS hi FROM ({source})")
    if span.empty or not span["hi"].iloc[0]:
        return pd.DataFrame(columns=["ts", "open", "high", "low", "close"])
    lo, hi = int(span["lo"].iloc[0]), int(span["hi"].iloc[0])
    bucket = max(1, (hi - lo) // max(points, 1) + 1)
    df = frame(
        store,
        f"SELECT intDiv({time_col}, {bucket}) * {bucket} AS ts, argMin(open, {time_col}) AS o, "
        f"max(high) AS h, min(low) AS l, argMax(close, {time_col}) AS c FROM ({source}) "
        "GROUP BY ts ORDER BY ts",
    )
    return df.rename(columns={"o": "open", "h": "high", "l": "low", "c": "close"})


def candles(
    store: Store,
    symbol: str,
    since: int,
    until: int,
    run_id: str | None = None,
    points: int = 2000,
) -> pd.DataFrame:
    """OHLC of a symbol, bucketed to at most ``points`` candles: the run's own bars (a
    backtest keeps each bar's prices), else the bars the desk recorded."""
    if run_id is not None:
        own = (
            "SELECT DISTINCT ts_event, open, high, low, close FROM backtest_bar FINAL "
            f"WHERE run_id = {_lit(run_id)} AND symbol = {_lit(symbol)} AND open IS NOT NULL"
        )
        df = _ohlc(store, own, "ts_event", points)
        if not df.empty:
            return df
    recorded = (
        "SELECT ts_event, open, high, low, close FROM market_bars_clean FINAL "
        f"WHERE symbol = {_lit(symbol)} AND ts_event BETWEEN {int(since)} AND {int(until)}"
    )
    return _ohlc(store, recorded, "ts_event", points)


def run_symbols(summary: dict[str, Any]) -> list[str]:
    return sorted({s.partition(":")[2] for s in summary.get("data", {}).get("streams", [])})
