"""``desk universe``: validate a universe file (with its artifact), import it into
PostgreSQL (``config_universe``), show what is imported (docs/daily-ticket.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analytics.daily import universe as universe_mod
from analytics.daily.universe import EXAMPLE, Report
from streams.cli import context
from streams.cli.options import JsonOpt

universe_app = typer.Typer(
    help="The universe: what the desk trades and its benchmarks.", no_args_is_help=True
)

FileArg = Annotated[
    Path,
    typer.Argument(help="A universe CSV or YAML (default: the bundled example)."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(help="Where the validation artifact goes (default: DESK_DATA_DIR/reports)."),
]


def _report(path: Path, data: list[Path] | None) -> tuple[universe_mod.UniverseFile, Report]:
    from analytics.daily import universe

    uf = universe.read(path)
    last = None
    if data:
        from analytics.daily.eod import csv_files, parse, read_raw

        fetch = {i.symbol for i in universe.needed(uf.rows)}
        last = {}
        for f in csv_files(data):
            for r in parse(read_raw(f)):
                if r.symbol in fetch and r.adj_close is not None:
                    last[r.symbol] = max(last.get(r.symbol, r.day), r.day)
    return uf, universe.check(uf, last)


def _say(report: Report, where: Path) -> None:
    colour = "green" if report.status == "PASS" else "red"
    context.out.print(f"[{colour}]{report.status}[/] {report.source}", highlight=False)
    for c in report.checks:
        mark = "ok  " if c.status == "PASS" else "FAIL"
        context.out.print(f"  {mark} {c.name}: {c.detail}", highlight=False)
    context.out.print(f"  fetched: {', '.join(report.fetch)}", highlight=False)
    context.out.print(f"  report: {where}", highlight=False)


@universe_app.command("validate")
def validate_cmd(
    file: FileArg = EXAMPLE,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="End-of-day files or folders: check every fetched row."),
    ] = None,
    out: OutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a universe: rows readable, each symbol once, an enabled tradable, SPY and QQQ
    as benchmarks, a source symbol and a known calendar per fetched row; with --data,
    an end-of-day row for every fetched symbol. Exit 1 on FAIL.

    Writes universe_validation.md and .json (what failed and what to do).

    Examples:

      $ desk universe validate --json
      $ desk universe validate universe.csv --data etf/  # needs: ETF files
    """
    from analytics.daily.universe import write_report

    _uf, report = _report(file, data)
    where = write_report(report, out or context.settings().data_path / "reports")
    if json_out:
        context.print_json({**report.to_json(), "artifact": str(where)})
    else:
        _say(report, where)
    if report.status != "PASS":
        raise typer.Exit(1)


@universe_app.command("import")
def import_cmd(file: FileArg = EXAMPLE, out: OutOpt = None, json_out: JsonOpt = False) -> None:
    """Validate, then make PostgreSQL's universe exactly this file's rows (one
    transaction; a failing file changes nothing, exit 1). Importing the same rows again
    changes nothing; each import that changes something is logged with what it changed.
    """
    from analytics.daily.universe import write_report
    from connectors.postgres.daily import import_universe
    from connectors.postgres.migrate import migrate
    from streams.runtime.access import postgres_dsn

    uf, report = _report(file, None)
    where = write_report(report, out or context.settings().data_path / "reports")
    if report.status != "PASS":
        if json_out:
            context.print_json({**report.to_json(), "artifact": str(where), "imported": None})
        else:
            _say(report, where)
            context.err.print("[red]refused:[/] nothing imported", highlight=False)
        raise typer.Exit(1)
    with postgres_dsn(context.settings()) as dsn:
        migrate(dsn)
        done = import_universe(dsn, [i.to_json() for i in uf.rows], uf.sha256, str(file))
    if json_out:
        context.print_json({**report.to_json(), "artifact": str(where), "imported": done})
        return
    what = (
        "unchanged"
        if done["unchanged"]
        else "; ".join(
            f"{k}: {', '.join(done[k])}" for k in ("added", "changed", "removed") if done[k]
        )
    )
    context.out.print(
        f"[green]imported[/] {done['rows']} rows from {file} ({what})", highlight=False
    )


@universe_app.command("show")
def show_cmd(json_out: JsonOpt = False) -> None:
    """The universe as imported in PostgreSQL."""
    from connectors.postgres.daily import universe
    from connectors.postgres.migrate import migrate
    from streams.display import desk_table
    from streams.runtime.access import postgres_dsn

    with postgres_dsn(context.settings()) as dsn:
        migrate(dsn)
        rows = universe(dsn)
    if json_out:
        context.print_json(rows)
        return
    if not rows:
        context.out.print("no universe imported yet: desk universe import FILE")
        return
    t = desk_table(
        "symbol", "type", "enabled", "benchmark", "calendar", "sources", keys=("symbol",)
    )
    for r in rows:
        srcs = ", ".join(f"{k}={v}" for k, v in sorted(r["sources"].items()))
        t.add_row(
            r["symbol"], r["type"], str(r["enabled"]), str(r["benchmark"]), r["calendar"], srcs
        )
    context.out.print(t)


def register_universe(app: typer.Typer) -> None:
    app.add_typer(universe_app, name="universe")
