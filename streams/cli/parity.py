"""``desk parity report``: expected (the shadow fill model) vs realized execution, per bot.

Reads ``orders.commands``, ``orders.events``, ``fills`` and ``market.bars.clean`` from
the broker, runs the same orders through the paper fill model (with the config's
``parity.shadow`` overrides) in event-time order, and compares per bot and window.
Exit code 1 when a window is WARNING (the model looks better than reality).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table

parity_app = typer.Typer(help="Parity: the fill model against realized execution.",
                         no_args_is_help=True)  # fmt: skip


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


@parity_app.command("report")
def report(
    json_out: JsonOpt = False,
) -> None:
    """Expected vs realized fill ratio, slippage, rejects, latency and PnL per bot and window.

    Examples:

      $ desk parity report  # needs: desk up

      $ desk parity report --json  # needs: desk up
    """
    from agents.parity.core import parity_reports
    from streams.config import load_config
    from streams.kafka import decode_all, read_topic

    settings = context.checked_settings()
    bootstrap, prefix = context.bootstrap(settings), settings.topic_prefix
    topics = ("orders.commands", "orders.events", "fills", "market.bars.clean")
    with context.err.status("reading the topics and running the shadow model...", spinner="dots"):
        data = {t: decode_all(read_topic(bootstrap, t, prefix, idle_s=1.0)) for t in topics}
        config = load_config(settings.config_file)
        got = parity_reports(config, *(data[t] for t in topics))
    result: dict[str, Any] = {
        "thresholds_version": config.parity.version,
        "window_minutes": config.parity.window_minutes,
        "shadow": config.parity.shadow,
        "reports": got,
        "warnings": sum(r["status"] == "WARNING" for r in got),
    }
    if json_out:
        context.print_json(result)
    else:
        table = desk_table(
            "bot",
            "window (UTC)",
            "status",
            "metric",
            "expected",
            "realized",
            "threshold",
            keys=("bot", "metric"),
            left=("window (UTC)",),
            numbers=("expected", "realized"),
            title=f"parity (thresholds {config.parity.version}, "
            f"{config.parity.window_minutes} min windows)",
        )
        for r in got:
            at = dt.datetime.fromtimestamp(r["window_start"] / 1000, dt.UTC)
            for i, m in enumerate(r["metrics"]):
                warn = " [yellow]WARN[/]" if m["status"] == "WARNING" else ""
                table.add_row(r["bot_id"] if i == 0 else "",
                              at.strftime("%Y-%m-%d %H:%M") if i == 0 else "",
                              r["status"] if i == 0 else "", m["name"], _fmt(m["expected"]),
                              _fmt(m["realized"]), f"{m['threshold']:g}{warn}")  # fmt: skip
        context.out.print(table)
    if result["warnings"]:
        raise typer.Exit(1)


def register_parity(app: typer.Typer) -> None:
    app.add_typer(parity_app, name="parity")
