"""``desk demo``: the README's first command (``analytics.demo.run``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table, print_table


def demo(
    json_out: JsonOpt = False,
    limit: Annotated[
        int | None, typer.Option(help="Bars per sample (default: all).", min=1)
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Desk config (default: streams/desk.demo.yaml).")
    ] = None,
) -> None:
    """The whole desk on real bundled bars, offline: trade, check, judge, report.

    Brings the embedded stack up, replays EUR/USD hourly and GOOG daily through every
    node with the reference bots trading, backtests the same window on the engine and
    shows the two agree, runs the promotion gates, and writes a markdown report with
    an equity chart per bot. Exit 1 if a check failed.
    """
    from analytics.demo.run import run_demo
    from streams.progress import progress_bar, stage_reporters
    from streams.settings import load_settings

    settings = context.checked_settings()
    if settings.data_dir == Path(".desk"):  # keep the demo away from a real desk's data
        settings = load_settings(
            **{**settings.model_dump(exclude_unset=True), "data_dir": Path(".desk/demo")}
        )
    with progress_bar(context.err, disable=json_out) as progress:
        on_stage, on_progress = stage_reporters(progress, context.err, json_out)
        report = run_demo(settings, config, limit, on_stage, on_progress)
    if json_out:
        context.print_json(report)
    else:
        _print(report, settings.data_path)
    if not report["passed"]:
        raise typer.Exit(1)


def _print(r: dict[str, Any], data: Path) -> None:
    out = context.out
    t = desk_table(
        "topic", "events", title="events the desk wrote", keys=("topic",), numbers=("events",)
    )
    for topic, n in r["events"].items():
        t.add_row(topic, f"{n:,}")
    out.print(t)
    b = desk_table(
        "bot",
        "orders",
        "fills",
        "PnL",
        "max dd",
        title="bots",
        keys=("bot",),
        numbers=("orders", "fills", "PnL", "max dd"),
    )
    for x in r["bots"]:
        pnl = "" if x["pnl"] is None else f"{float(x['pnl']):,.2f}"
        dd = "" if x["max_drawdown"] is None else f"{float(x['max_drawdown']) * 100:.2f}%"
        b.add_row(x["bot"], f"{x['orders']:,}", f"{x['fills']:,}", pnl, dd)
    out.print(b)
    d = desk_table("kind", "error", title="dead letters", keys=("kind",))
    for x in r["dead_letters"]:
        d.add_row(x["kind"], x["error"])
    print_table(out, d, len(r["dead_letters"]), "dead letter")
    c = desk_table("check", "", "detail", title="checks", keys=("check",), left=("detail",))
    for x in r["checks"]:
        c.add_row(x["name"], "[green]ok[/]" if x["passed"] else "[red]FAILED[/]", x["detail"])
    out.print(c)
    g = desk_table(
        "gate", "status", "reasons", title="promotion gates", keys=("gate",), left=("reasons",)
    )
    colour = {"PASS": "green", "FAIL": "red", "STALE": "yellow"}
    for x in r["gates"]["gates"]:
        g.add_row(x["gate"], f"[{colour[x['status']]}]{x['status']}[/]", "; ".join(x["reasons"]))
    out.print(g)
    dq = r["data_quality"]
    agree = "agree" if r["stream_vs_engine"]["agree"] else "DIFFER"
    out.print(
        f"{r['bars_in']:,} bars, {dq['findings']} data-quality findings, "
        f"{len(r['dead_letters'])} dead letters; stream and engine {agree}; gates "
        f"{r['gates']['status']} (level {r['gates']['validation_level']}); "
        f"{r['seconds']['total']:.0f} s",
        highlight=False,
    )
    out.print(f"report: {r['artifacts']['markdown']}", highlight=False)
    out.print(
        f'look closer: DESK_DATA_DIR={data} desk sql "SELECT bot_id, count() FROM '
        f'fills GROUP BY bot_id"; DESK_DATA_DIR={data} desk gates show',
        highlight=False,
    )
    out.print(
        f"the dashboard: DESK_DATA_DIR={data} desk dashboard (desk view, the backtest "
        f"{r['backtest']['run_id']}, triage, gates)",
        highlight=False,
    )


def register_demo(app: typer.Typer) -> None:
    app.command("demo")(demo)
