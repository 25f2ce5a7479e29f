"""``desk backtest``: run the desk's graph over recorded bars, list, show and compare runs.

A run writes ``<data dir>/backtests/<run id>/summary.json`` (byte-identical for the same
inputs) and ``config.json`` (the resolved run config), and its bars, fills, orders and
risk decisions into the analytics store's ``backtest_*`` tables, where ``desk sql``
reads them like any other table.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from streams.cli import context
from streams.cli.options import JsonOpt
from streams.display import desk_table, print_table
from streams.errors import DeskError

backtest_app = typer.Typer(
    help="Backtests on the desk's own graph: run, list, show, compare.", no_args_is_help=True
)


def _when(ts: int | None) -> str:
    if not ts:
        return ""
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _day(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%d")


def _fig(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, str):
        try:
            return f"{Decimal(v):,.2f}"
        except ArithmeticError:
            return v
    return f"{v:,}" if isinstance(v, int) else str(v)


@backtest_app.command("run")
def run_cmd(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="Bar files or folders (every format the replay feed reads); repeat for more.",
        ),
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="The bars the desk recorded (market_bars in the "
            "analytics store: every replayed or live bar it took), instead of files.",
        ),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Desk config whose bots and strategies run (default: the "
            "packaged one, or DESK_CONFIG_FILE).",
        ),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="Run this strategy (a config strategy name or a "
            "registered kind) as one bot per stream of the data, instead of the "
            "config's bots.",
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="NAME=VALUE over the strategy's params.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Bars opening at/after this time (ISO-8601, UTC if naive).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Bars opening before this time.")] = None,
    symbols: Annotated[
        str | None, typer.Option(help="Only these symbols, e.g. BTC/USDT,BTC/USD.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Paper fill model seed (every venue).")] = None,
    latency_ms: Annotated[
        int | None, typer.Option("--latency-ms", help="Command-to-venue latency, event time.")
    ] = None,
    market_fill: Annotated[
        str | None,
        typer.Option(
            "--market-fill",
            help="close_quote (closing quote, slippage, volume cap) or "
            "next_open (whole, at the next bar's open: a bar backtester's model).",
        ),
    ] = None,
    cash: Annotated[
        str, typer.Option(help="Starting cash of each --strategy bot (its quote currency).")
    ] = "100000",
    fee_profile: Annotated[
        str | None, typer.Option("--fee-profile", help="Fee profile of the --strategy bots.")
    ] = None,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Write the run to the analytics store.")
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Run the desk graph (data quality, strategies, risk, paper venue, portfolio, portfolio
    risk) over recorded bars, in event time, and record the run.

    Fills are against quotes synthesized from the bars: the run says
    fill_model_bias=optimistic_estimated. The same inputs give the same run id and the
    same summary.json, byte for byte.

    Examples:

      $ desk backtest run --data ../shared/data/crypto_1m \\
          --since 2023-03-01 --until 2023-03-03 \\
          --strategy trend_ema --param fast=8 --no-store

      $ desk backtest run --data ../shared/data/crypto_1m \\
          --since 2023-03-01 --until 2023-03-02 --seed 11 --json --no-store

      $ desk backtest run --from-store --since 2023-03-11 \\
          --until 2023-03-12  # needs: bars the desk recorded (a replay)
    """
    from analytics.backtest.records import summary, table_rows, write_run_dir
    from analytics.backtest.run import backtest_config, parse_params, run_backtest
    from connectors.feeds.files import check_bars, read_files
    from streams.cli.replay import expand, read_options
    from streams.config import load_config
    from streams.progress import progress_bar

    settings = context.settings()
    opts = read_options(symbols=symbols, since=since, until=until)
    if bool(data) == from_store:
        raise DeskError("give --data FILES or --from-store (the desk's recorded bars), one of them")
    paths = expand(data or [])
    for path in paths:
        check_bars(path, opts)
    try:
        amount = Decimal(cash)
    except ArithmeticError:
        raise DeskError(f"--cash {cash!r}: not a number") from None
    if from_store:
        from connectors.clickhouse.backtests import stored_bars
        from streams.runtime.access import analytics_store

        with context.err.status("reading the recorded bars...", spinner="dots"), \
                analytics_store(settings) as st:  # fmt: skip
            st.migrate({})
            bars = stored_bars(st, opts.since, opts.until, opts.symbols)
        names = ["market_bars (the analytics store)"]
    else:
        with context.err.status("reading the bars...", spinner="dots"):
            bars = read_files(paths, opts).bars
        names = [p.name for p in paths]
    if not bars:
        where = "the analytics store" if from_store else "the files"
        raise DeskError(f"no bars in {where} for that window: check --since/--until/--symbols")
    streams = sorted({(b["venue"], b["symbol"]) for b in bars})
    base = load_config(config or settings.config_file)
    cfg = backtest_config(base, streams, strategy=strategy, params=parse_params(param or []),
                          cash=amount, seed=seed, fee_profile=fee_profile, latency_ms=latency_ms,
                          market_fill=market_fill)  # fmt: skip
    with progress_bar(context.err, disable=json_out, eta=True) as progress:
        task = progress.add_task("backtest", total=len(bars))
        result = run_backtest(
            cfg, bars, on_bar=lambda n: n % 500 or progress.update(task, completed=n)
        )
        progress.update(task, completed=len(bars))
    s = summary(result, bars, names)
    where = write_run_dir(settings.data_path / "backtests", s, result)
    stored = 0
    if store:
        from connectors.clickhouse.backtests import save
        from streams.runtime.access import analytics_store

        with context.err.status("writing the run to the analytics store...", spinner="dots"), \
                analytics_store(settings) as st:  # fmt: skip
            st.migrate(cfg.analytics.retention_days)
            stored = save(st, list(table_rows(s, result)))
    if json_out:
        context.print_json({**s, "run_dir": str(where), "rows_stored": stored})
        return
    _show(s)
    context.err.print(f"summary: {where / 'summary.json'}"
                      + (f"; {stored:,} rows in the analytics store" if store else ""))  # fmt: skip


def _duration_ms(text: str, flag: str) -> int:
    import pandas as pd

    try:
        ms = int(pd.Timedelta(text.strip()).total_seconds() * 1000)
    except ValueError:
        raise DeskError(f"{flag} {text!r}: expected a duration like 7d, 12h, 90min") from None
    if ms <= 0:
        raise DeskError(f"{flag} {text!r}: must be positive")
    return ms


@backtest_app.command("sweep")
def sweep_cmd(
    data: Annotated[list[Path], typer.Option("--data", help="Bar files or folders.")],
    strategy: Annotated[
        str, typer.Option("--strategy", help="The strategy swept (config name or kind).")
    ],
    grid_opt: Annotated[
        list[str], typer.Option("--grid", help="NAME=V1,V2,... (repeat: every combination).")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", help="NAME=VALUE held fixed.")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Base desk config.")] = None,
    since: Annotated[str | None, typer.Option(help="Bars opening at/after this time.")] = None,
    until: Annotated[str | None, typer.Option(help="Bars opening before this time.")] = None,
    symbols: Annotated[str | None, typer.Option(help="Only these symbols.")] = None,
    sort: Annotated[
        str, typer.Option(help="Figure to rank by (max_drawdown, fees, turnover: lower is better).")
    ] = "sharpe",
    walk_forward: Annotated[
        bool, typer.Option("--walk-forward", help="Train/test folds instead of one grid.")
    ] = False,
    train: Annotated[str, typer.Option(help="Walk-forward training window.")] = "7d",
    test: Annotated[str, typer.Option(help="Walk-forward test window (and step).")] = "2d",
    workers: Annotated[
        int | None, typer.Option(help="Processes (default: the machine's cores).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Paper fill model seed.")] = None,
    cash: Annotated[str, typer.Option(help="Starting cash of each bot.")] = "100000",
    top: Annotated[int, typer.Option(help="Rows shown (all in --json).")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Every combination of a parameter grid (or walk-forward folds), on a process pool,
    ranked by a figure.

    With --walk-forward each fold picks the best combination on its training bars only
    and runs it on the test bars that follow, from a fresh state. Runs are not stored
    (desk backtest run records one).

    Examples:

      $ desk backtest sweep --data ../shared/data/crypto_1m --symbols BTC/USDT \\
          --since 2023-03-01 --until 2023-03-03 --strategy ema_cross \\
          --grid fast=5,10 --grid slow=30,60 --sort net_profit --workers 2

      $ desk backtest sweep --data ../shared/data/crypto_1m --symbols BTC/USDT \\
          --since 2023-03-01 --until 2023-03-05 --strategy ema_cross \\
          --grid fast=5,10 --walk-forward --train 2d --test 1d --json
    """
    from analytics.backtest.compare import FIGURES
    from analytics.backtest.run import parse_params
    from analytics.backtest.sweep import Job, folds, grid, run_all, score
    from analytics.backtest.sweep import walk_forward as run_walk_forward
    from connectors.feeds.files import check_bars, read_files
    from streams.cli.replay import expand, read_options
    from streams.config import load_config
    from streams.progress import progress_bar

    if sort not in FIGURES:
        raise DeskError(f"--sort {sort!r}: one of {', '.join(FIGURES)}")
    settings = context.settings()
    opts = read_options(symbols=symbols, since=since, until=until)
    paths = expand(data)
    for path in paths:
        check_bars(path, opts)
    combos = grid(grid_opt)
    fixed = parse_params(param or [])
    try:
        amount = Decimal(cash)
    except ArithmeticError:
        raise DeskError(f"--cash {cash!r}: not a number") from None
    with context.err.status("reading the bars...", spinner="dots"):
        bars = read_files(paths, opts).bars
    if not bars:
        raise DeskError("no bars: check the files and --since/--until/--symbols")
    streams = tuple(sorted({(b["venue"], b["symbol"]) for b in bars}))
    base = load_config(config or settings.config_file)
    template = Job(base, streams, strategy, {}, None, None, {"cash": amount, "seed": seed})
    combos = [{**fixed, **c} for c in combos]
    from analytics.backtest.run import backtest_config

    # a bad strategy or parameter is one line here, not an error in every worker
    backtest_config(base, streams, strategy=strategy, params=combos[0], cash=amount)
    fold_list = []
    if walk_forward:
        times = [b["open_time"] for b in bars]
        fold_list = folds(min(times), max(times), _duration_ms(train, "--train"),
                          _duration_ms(test, "--test"))  # fmt: skip
    total = len(combos) * len(fold_list) + len(fold_list) if walk_forward else len(combos)
    with progress_bar(context.err, disable=json_out, eta=True) as progress:
        task = progress.add_task("sweep", total=total)
        done = lambda _r: progress.advance(task)  # noqa: E731
        if walk_forward:
            result: dict[str, Any] = {
                "figure": sort, "folds": run_walk_forward(bars, template, combos, fold_list,
                                                           sort, workers, done)}  # fmt: skip
        else:
            jobs = [Job(**{**template.__dict__, "params": c}) for c in combos]
            runs = run_all(bars, jobs, workers, done)
            runs.sort(key=lambda r: score(r["summary"], sort), reverse=True)
            result = {"figure": sort, "runs": [
                {"params": r["params"], "run_id": r["summary"]["run_id"],
                 **{f: r["summary"]["metrics"]["total"].get(f) for f in FIGURES}}
                for r in runs]}  # fmt: skip
    if json_out:
        context.print_json(result)
        return
    if walk_forward:
        table = desk_table("fold", "train", "test", "params", f"train {sort}",
                           f"test {sort}", "test net", keys=("fold",),
                           numbers=(f"train {sort}", f"test {sort}", "test net"),
                           title=f"walk-forward, chosen by {sort} on training bars")  # fmt: skip
        for i, f in enumerate(result["folds"], 1):
            table.add_row(str(i), _day(f["train"][0]), _day(f["test"][0]), _params(f["params"]),
                          _fig(f["train_figure"]), _fig(f["test_figure"]),
                          _fig(f["test_net_profit"]))  # fmt: skip
        print_table(context.out, table, len(result["folds"]), "fold", "folds")
        return
    shown = dict.fromkeys((sort, "net_profit", "sharpe", "max_drawdown", "trades", "win_rate"))
    heads = [{"net_profit": "net", "max_drawdown": "max dd", "win_rate": "win"}.get(f, f)
             for f in shown]  # fmt: skip
    keys = list(combos[0])
    table = desk_table("#", *keys, *heads, keys=("#",), numbers=(*keys, *heads),
                       title=f"{len(combos)} runs by {sort}")  # fmt: skip
    for i, r in enumerate(result["runs"][:top], 1):
        table.add_row(str(i), *(str(r["params"][k]) for k in keys), *(_fig(r[f]) for f in shown))
    print_table(context.out, table, len(result["runs"]), "run", "runs")


def _params(p: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in p.items())


def _show(s: dict[str, Any]) -> None:
    d = s["data"]
    context.out.print(
        f"[bold]{s['run_id']}[/]  {_when(d['first_ts'])} → {_when(d['last_ts'])}  "
        f"{d['bars']:,} bars  code {s['code_version']}  "
        f"fill_model_bias=[yellow]{s['fill_model_bias']}[/]"
    )
    bots = s["metrics"]["bots"]
    names = ["total", *bots]
    table = desk_table("figure", *names, keys=("figure",), numbers=tuple(names),
                       title="figures (each bot's quote currency; total at par)")  # fmt: skip
    from analytics.backtest.compare import FIGURES

    for fig in FIGURES:
        table.add_row(fig, *(_fig((s["metrics"]["total"] if n == "total" else bots[n]).get(fig))
                             for n in names))  # fmt: skip
    context.out.print(table)


@backtest_app.command("list")
def list_cmd(json_out: JsonOpt = False) -> None:
    """The runs in the analytics store, oldest data first.

    Examples:

      $ desk backtest list

      $ desk backtest list --json
    """
    from connectors.clickhouse.backtests import runs
    from streams.runtime.access import analytics_store

    with analytics_store(context.settings()) as st:
        st.migrate({})
        found = runs(st)
    if json_out:
        context.print_json(found)
        return
    table = desk_table("run", "strategies", "from", "to", "bars", "fills", "net profit",
                       "max dd", "sharpe", "code", keys=("run",),
                       numbers=("bars", "fills", "net profit", "max dd", "sharpe"),
                       title="backtest runs")  # fmt: skip
    for r in found:
        table.add_row(r["run_id"], ",".join(r["strategies"]), _when(r["first_ts"]),
                      _when(r["last_ts"]), f"{r['bars']:,}", f"{r['fills']:,}",
                      _fig(r["net_profit"]), _fig(r["max_drawdown"]), _fig(r["sharpe"]),
                      r["code_version"])  # fmt: skip
    print_table(context.out, table, len(found), "run", "runs")


@backtest_app.command("show")
def show_cmd(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix of it).")],
    json_out: JsonOpt = False,
) -> None:
    """One run's summary: identity, assumptions, counts and figures per bot.

    Examples:

      $ desk backtest show bt-3f2a  # needs: a recorded run (id prefix)

      $ desk backtest show bt-3f2a --json  # needs: a recorded run
    """
    from connectors.clickhouse.backtests import resolve, summary
    from streams.runtime.access import analytics_store

    with analytics_store(context.settings()) as st:
        st.migrate({})
        s = summary(st, resolve(st, run))
    if json_out:
        context.print_json(s)
        return
    _show(s)


@backtest_app.command("compare")
def compare_cmd(
    runs: Annotated[list[str], typer.Argument(help="Two run ids (or unique prefixes).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where the equity overlay goes (.png and .html); default: "
            "<data dir>/backtests/compare-<a>-<b>.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Figure by figure, run B against run A (B − A), and both equity curves overlaid,
    saved as PNG and HTML.

    Examples:

      $ desk backtest compare bt-3f2a bt-91c0  # needs: two recorded runs

      $ desk backtest compare bt-3f2a bt-91c0 --out review/eq  # needs: runs
    """
    from analytics.backtest.compare import deltas, desk_curve, plot_equity
    from connectors.clickhouse.backtests import equity, resolve, summary
    from streams.runtime.access import analytics_store

    if len(runs) != 2:
        raise DeskError(f"compare takes two runs, got {len(runs)}")
    settings = context.settings()
    with analytics_store(settings) as st:
        st.migrate({})
        ids = [resolve(st, r) for r in runs]
        sums = [summary(st, i) for i in ids]
        rows = [equity(st, i) for i in ids]
    curves = {
        i: desk_curve(r, {b["id"]: Decimal(b["starting_cash"]) for b in s["bots"]})
        for i, r, s in zip(ids, rows, sums, strict=True)
    }
    target = out or settings.data_path / "backtests" / f"compare-{ids[0]}-{ids[1]}"
    png, html = plot_equity(curves, target, f"equity: {ids[0]} vs {ids[1]}")
    figures = deltas(sums[0], sums[1])
    if json_out:
        context.print_json({"a": ids[0], "b": ids[1], "figures": figures,
                            "png": str(png), "html": str(html)})  # fmt: skip
        return
    table = desk_table("figure", "A", "B", "B − A", keys=("figure",), numbers=("A", "B", "B − A"),
                       title=f"A = {ids[0]}   B = {ids[1]}")  # fmt: skip
    for f in figures:
        delta = f["delta"]
        if delta is not None and isinstance(f["a"], float | int) and not isinstance(f["a"], bool):
            delta = float(delta) if isinstance(f["a"], float) else int(Decimal(delta))
        table.add_row(f["figure"], _fig(f["a"]), _fig(f["b"]), _fig(delta))
    context.out.print(table)
    context.err.print(f"equity overlay: {png} and {html}")


def register_backtest(app: typer.Typer) -> None:
    app.add_typer(backtest_app, name="backtest")
