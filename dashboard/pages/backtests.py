"""Backtest review: pick a run, its figures, equity and underwater curves, monthly returns,
candles with its fills and regimes, and a second run overlaid."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, ui

FIGURES = (
    ("net_profit", "Net profit", "money"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("profit_factor", "Profit factor", "ratio"),
    ("fill_rate", "Fill rate", "pct"),
    ("win_rate", "Win rate", "pct"),
    ("fees", "Fees", "money"),
    ("turnover", "Turnover", "ratio"),
    ("trades", "Trades", "int"),
)


def shown(value: object, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "money":
        return ui.money(value)
    if kind == "pct":
        return f"{float(value) * 100:.2f}%"
    if kind == "int":
        return f"{int(value):,}"
    return f"{float(value):.3f}"


def label(r: object) -> str:
    strategies = ", ".join(r.strategies)  # type: ignore[attr-defined]
    return (
        f"{r.run_id} · {strategies} · {ui.when(r.first_ts)[:10]} → "  # type: ignore[attr-defined]
        f"{ui.when(r.last_ts)[:10]} · {r.fill_model_bias}"
    )  # type: ignore[attr-defined]


st.title("Backtest review")
src = ui.sources()
ui.header(src)
runs = data.backtest_runs(src.store) if src.store is not None else None
if runs is None or runs.empty:
    st.info(
        "No backtest recorded yet. Run `desk backtest run --data FILES --since ... --until ...` "
        "(or `desk demo`, which records its engine run), then come back."
    )
    st.stop()
labels = {label(r): r.run_id for r in runs.itertuples()}
pick = st.selectbox("run", list(labels), key="bt_run")
run_id = labels[pick]
s = data.backtest_summary(src.store, run_id)
total = s.get("metrics", {}).get("total", {})
if "optimistic" in str(s.get("fill_model_bias", "")):
    st.warning(
        f"**Optimistic fill model** ({s['fill_model_bias']}): fills are against quotes "
        "synthesized from the bars, not a recorded book. Expect live results to be worse."
    )
st.caption(
    f"data: {', '.join(s.get('data', {}).get('files', []))} · streams: "
    f"{', '.join(s.get('data', {}).get('streams', []))} · code {s.get('code_version', '')}"
)
cols = st.columns(5)
for i, (key, name, kind) in enumerate(FIGURES):
    cols[i % 5].metric(name, shown(total.get(key), kind))

with ui.section("equity"):
    curves = data.backtest_equity(src.store, run_id)
    st.plotly_chart(charts.equity_drawdown(curves, "Equity and underwater"), width="stretch")
with ui.section("monthly returns"):
    monthly = total.get("monthly_returns") or {}
    if monthly:
        st.plotly_chart(charts.monthly_heatmap(monthly), width="stretch")
    else:
        st.caption("no monthly returns in this run's summary")
with ui.section("candles"):
    symbols = data.run_symbols(s)
    if symbols:
        sym = st.selectbox("symbol", symbols, key="bt_symbol")
        lo, hi = int(s["data"]["first_ts"]), int(s["data"]["last_ts"])
        bars = data.candles(src.store, sym, lo, hi, run_id=run_id)
        fills = data.backtest_fills(src.store, run_id)
        fills = fills[fills["symbol"] == sym]
        if bars.empty:
            st.caption(
                f"{sym}: no bar prices for this run (recorded before backtests kept them); "
                "run it again to see candles."
            )
        else:
            regimes = curves.dropna(subset=["regime"])
            regimes = regimes[(regimes["regime"] != "") & (regimes["sym"] == sym)]
            regimes = regimes[regimes["bot_id"] == regimes["bot_id"].min()]  # one bot's
            st.plotly_chart(
                charts.candles_with_fills(bars, fills, regimes, f"{sym}: bars and fills"),
                width="stretch",
            )
with ui.section("compare"):
    others = [k for k in labels if labels[k] != run_id]
    other = st.selectbox("compare with", ["—", *others], key="bt_other")
    if other != "—":
        b = labels[other]
        both = {run_id: curves, b: data.backtest_equity(src.store, b)}
        st.plotly_chart(charts.overlay(both), width="stretch")
        sb = data.backtest_summary(src.store, b).get("metrics", {}).get("total", {})
        st.dataframe(
            [
                {"figure": n, run_id: shown(total.get(k), kd), b: shown(sb.get(k), kd)}
                for k, n, kd in FIGURES
            ],
            hide_index=True,
            width="stretch",
        )
