"""Two (or more) runs side by side: the figures and their differences, and the equity
curves overlaid (PNG for a ticket or a review, HTML to zoom)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

# the desk-level figures compared, in the order shown
FIGURES = (
    "net_profit", "return", "final_equity", "gross_profit", "gross_loss", "fees", "trades",
    "win_rate", "profit_factor", "max_drawdown", "max_drawdown_duration_s", "sharpe",
    "sortino", "fills", "orders", "fill_rate", "turnover", "exposure_time",
)  # fmt: skip


def _num(v: Any) -> Decimal | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        return Decimal(str(v))
    except ArithmeticError:
        return None


def deltas(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per figure of the two summaries' desk totals: a, b and b − a (None where either is)."""
    ta, tb = a["metrics"]["total"], b["metrics"]["total"]
    out = []
    for name in FIGURES:
        va, vb = ta.get(name), tb.get(name)
        na, nb = _num(va), _num(vb)
        delta = None if na is None or nb is None else format((nb - na).normalize(), "f")
        out.append({"figure": name, "a": va, "b": vb, "delta": delta})
    return out


def desk_curve(
    rows: Sequence[tuple[int, str, str]], starting: Mapping[str, Decimal]
) -> list[tuple[int, Decimal]]:
    """The desk's equity at each bar time: every bot's latest equity summed (cash at par)."""
    latest = dict(starting)
    out: list[tuple[int, Decimal]] = []
    for ts, bot, eq in rows:
        latest[bot] = Decimal(eq)
        total = sum(latest.values(), Decimal(0))
        if out and out[-1][0] == ts:
            out[-1] = (ts, total)
        else:
            out.append((ts, total))
    return out


def plot_equity(curves: Mapping[str, Sequence[tuple[int, Decimal]]], out: Path,
                title: str) -> tuple[Path, Path]:  # fmt: skip
    """``<out>.png`` (matplotlib) and ``<out>.html`` (Plotly, self-contained: works offline)."""
    import datetime as dt

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(11, 5), dpi=110)
    pfig = go.Figure()
    for name, curve in curves.items():
        xs = [dt.datetime.fromtimestamp(ts / 1000, dt.UTC) for ts, _ in curve]
        ys = [float(v) for _, v in curve]
        ax.plot(xs, ys, label=name, linewidth=1)
        pfig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name))
    ax.set_title(title)
    ax.set_ylabel("equity (quote currencies at par)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.autofmt_xdate()
    png = out.with_suffix(".png")
    fig.savefig(png, metadata={"Software": None})
    plt.close(fig)
    pfig.update_layout(title=title, yaxis_title="equity", template="plotly_white")
    html = out.with_suffix(".html")
    pfig.write_html(html, include_plotlyjs=True, full_html=True)
    return png, html
