"""Plotly figures of the dashboard: built from frames, no I/O (testable without a page)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TEMPLATE = "plotly_white"
PALETTE = (
    "#1f77b4",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#d62728",
)
REGIME_COLOURS = {  # bands behind the candles; "neutral" (quoting both sides) is left clear
    "up": "rgba(44,160,44,0.12)",
    "down": "rgba(214,39,40,0.12)",
    "high_vol": "rgba(255,127,14,0.18)",
}


def _ts(ms: Any) -> pd.Series:
    return pd.to_datetime(pd.Series(ms, dtype="int64"), unit="ms", utc=True)


def _layout(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    fig.update_layout(
        title=title,
        template=TEMPLATE,
        height=height,
        margin={"l": 40, "r": 20, "t": 50, "b": 30},
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def equity_drawdown(curves: pd.DataFrame, title: str = "Equity and drawdown") -> go.Figure:
    """Equity per bot on top, its drawdown (underwater) below."""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.05
    )
    for n, (bot, g) in enumerate(curves.groupby("bot_id", sort=True)):
        x, colour, name = _ts(g["ts"]), PALETTE[n % len(PALETTE)], str(bot)
        equity = go.Scatter(x=x, y=g["equity"].astype(float), name=name, mode="lines",
                            legendgroup=name, line_color=colour)  # fmt: skip
        under = go.Scatter(x=x, y=-g["drawdown"].astype(float) * 100, name=f"{name} drawdown",
                           mode="lines", fill="tozeroy", legendgroup=name, showlegend=False,
                           line_color=colour)  # fmt: skip
        fig.add_trace(equity, row=1, col=1)
        fig.add_trace(under, row=2, col=1)
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    return _layout(fig, title, 480)


def daily_pnl(df: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for bot, g in df.groupby("bot_id", sort=True):
        fig.add_trace(go.Bar(x=g["trading_day"], y=g["daily_pnl"].astype(float), name=str(bot)))
    fig.update_layout(barmode="group")
    return _layout(fig, "Daily PnL (end of each trading day)", 300)


def limits(uses: Sequence[Mapping[str, Any]]) -> go.Figure:
    labels = [f"{u['bot_id']} {u['limit']}" for u in uses]
    pct = [u["use"] * 100 for u in uses]
    colours = ["#d62728" if p >= 90 else "#ff7f0e" if p >= 70 else "#2ca02c" for p in pct]
    fig = go.Figure(
        go.Bar(
            x=pct,
            y=labels,
            orientation="h",
            marker_color=colours,
            text=[f"{p:.0f}%" for p in pct],
            textposition="auto",
        )
    )
    fig.add_vline(x=100, line_dash="dash", line_color="#d62728")
    fig.update_xaxes(title_text="% of the limit used", range=[0, max([110.0, *pct])])
    return _layout(fig, "Limits: use now", 120 + 28 * len(uses))


def monthly_heatmap(monthly: Mapping[str, Any], title: str = "Monthly returns %") -> go.Figure:
    """``{"2023-03": 0.012, ...}`` as a year x month heatmap."""
    rows: dict[str, list[float | None]] = {}
    for ym, r in sorted(monthly.items()):
        year, month = ym[:4], int(ym[5:7])
        rows.setdefault(year, [None] * 12)[month - 1] = None if r is None else float(r) * 100
    years = sorted(rows)
    z = [rows[y] for y in years]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    text = [["" if v is None else f"{v:.2f}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=months,
            y=years,
            colorscale="RdYlGn",
            zmid=0,
            text=text,
            texttemplate="%{text}",
            hoverongaps=False,
        )
    )
    return _layout(fig, title, 140 + 40 * len(years))


def candles_with_fills(
    bars: pd.DataFrame, fills: pd.DataFrame, regimes: pd.DataFrame | None, title: str
) -> go.Figure:
    """Candlesticks, buy (▲) and sell (▼) fills at their prices, regime bands behind."""
    fig = go.Figure(
        go.Candlestick(
            x=_ts(bars["ts"]),
            open=bars["open"].astype(float),
            high=bars["high"].astype(float),
            low=bars["low"].astype(float),
            close=bars["close"].astype(float),
            name="bars",
        )
    )
    for side, symbol, colour in (
        ("BUY", "triangle-up", "#2ca02c"),
        ("SELL", "triangle-down", "#d62728"),
    ):
        f = fills[fills["side"] == side]
        if len(f):
            fig.add_trace(
                go.Scatter(
                    x=_ts(f["ts_event"]),
                    y=f["price"].astype(float),
                    mode="markers",
                    name=side,
                    marker={
                        "symbol": symbol,
                        "size": 9,
                        "color": colour,
                        "line": {"width": 1, "color": "black"},
                    },
                )
            )
    if regimes is not None and len(regimes):
        seen = set()
        for start, end, regime in regime_spans(regimes):
            colour = REGIME_COLOURS.get(regime)
            if colour is None:
                continue
            seen.add(regime)
            fig.add_vrect(x0=pd.to_datetime(start, unit="ms", utc=True),
                          x1=pd.to_datetime(end, unit="ms", utc=True),
                          fillcolor=colour, line_width=0, layer="below")  # fmt: skip
        for regime in sorted(seen):  # a legend entry per regime drawn
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"regime: {regime}",
                                     marker={"symbol": "square", "size": 12,
                                             "color": REGIME_COLOURS[regime]}))  # fmt: skip
    fig.update_layout(xaxis_rangeslider_visible=False)
    return _layout(fig, title, 460)


def regime_spans(df: pd.DataFrame) -> list[tuple[int, int, str]]:
    """Contiguous runs of one regime as (start, end, regime); empty regimes skipped."""
    spans: list[tuple[int, int, str]] = []
    for ts, regime in zip(df["ts"], df["regime"], strict=True):
        ts, regime = int(ts), str(regime or "")
        if spans and spans[-1][2] == regime:
            spans[-1] = (spans[-1][0], ts, regime)
        else:
            spans.append((ts, ts, regime))
    return [s for s in spans if s[2]]


def overlay(curves: Mapping[str, pd.DataFrame]) -> go.Figure:
    """Runs compared: each run's summed equity as a % return on its start."""
    fig = go.Figure()
    for name, g in curves.items():
        total = g.groupby("ts", sort=True)["equity"].apply(lambda s: s.astype(float).sum())
        if total.empty:
            continue
        ret = (total / total.iloc[0] - 1) * 100
        fig.add_trace(go.Scatter(x=_ts(total.index), y=ret.values, mode="lines", name=name))
    fig.update_yaxes(title_text="return %")
    return _layout(fig, "Runs compared (return on start)", 380)


def series(df: pd.DataFrame, x: str, y: str, title: str) -> go.Figure:
    xs = df[x]
    if x.startswith("ts") and pd.api.types.is_integer_dtype(xs):
        xs = _ts(xs)
    fig = go.Figure(go.Scatter(x=xs, y=pd.to_numeric(df[y], errors="coerce"), mode="lines+markers"))
    return _layout(fig, title, 340)
